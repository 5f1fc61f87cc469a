"""Bulk-load charging stations and sessions (raw/chargenet/) into bronze with Spark.

    python -m ingestion.bronze.chargenet_ingest [--prefix P] [--master URL] [--json]

Files already in the ledger are skipped, so it is safe to re-run.
"""

from __future__ import annotations

from ingestion.bronze import main

PREFIXES = ("raw/chargenet/",)

if __name__ == "__main__":
    raise SystemExit(main("chargenet_ingest", PREFIXES))
