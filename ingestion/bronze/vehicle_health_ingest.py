"""Bulk-load vehicle health logs (raw/vehicle_health/) into bronze with Spark.

    python -m ingestion.bronze.vehicle_health_ingest [--prefix P] [--master URL] [--json]

Files already in the ledger are skipped, so it is safe to re-run.
"""

from __future__ import annotations

from ingestion.bronze import main

PREFIXES = ("raw/vehicle_health/",)

if __name__ == "__main__":
    raise SystemExit(main("vehicle_health_ingest", PREFIXES))
