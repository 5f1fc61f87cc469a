"""Bulk-load vehicles, customers, sales and product reviews (raw/ecoride/) into bronze with Spark.

    python -m ingestion.bronze.ecoride_ingest [--prefix P] [--master URL] [--json]

Files already in the ledger are skipped, so it is safe to re-run.
"""

from __future__ import annotations

from ingestion.bronze import main

PREFIXES = ("raw/ecoride/",)

if __name__ == "__main__":
    raise SystemExit(main("ecoride_ingest", PREFIXES))
