"""Bulk-load product documents, one row per PDF page (raw/docs/) into bronze with Spark.

    python -m ingestion.bronze.documents_ingest [--prefix P] [--master URL] [--json]

Files already in the ledger are skipped, so it is safe to re-run.
"""

from __future__ import annotations

from ingestion.bronze import main

PREFIXES = ("raw/docs/",)

if __name__ == "__main__":
    raise SystemExit(main("documents_ingest", PREFIXES))
