"""PySpark bulk loaders: ``python -m ingestion.bronze.<source>_ingest`` loads a whole prefix.

Each module names its prefixes and calls :func:`main`; the work is in
:mod:`ingestion.bronze.bulk` (driver) and :mod:`ingestion.bronze.spark`
(session and task functions). Run them locally (``local[*]``) or through
``spark-submit --master ...`` on a cluster; they need the Nessie catalog
(native or docker mode).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from lakehouse.errors import LakehouseError
from lakehouse.settings import get_settings


def main(name: str, prefixes: tuple[str, ...], argv: list[str] | None = None) -> int:
    """CLI of one bulk loader: human summary (or ``--json``), exit 1 with a one-line reason."""
    parser = argparse.ArgumentParser(
        prog=f"python -m ingestion.bronze.{name}",
        description=f"Load every file under {', '.join(prefixes)} that bronze lacks, with Spark.",
    )
    parser.add_argument("--prefix", action="append", help="load these prefixes instead (repeatable)")
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument("--json", action="store_true", help="print the per-table report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from ingestion.bronze.bulk import bulk_load
    from ingestion.bronze.spark import spark_session

    settings = get_settings()
    try:
        spark = spark_session(settings, f"bronze-{name}", args.master)
        try:
            reports = bulk_load(spark, settings, tuple(args.prefix or prefixes))
        finally:
            spark.stop()
    except LakehouseError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        for r in reports:
            print(f"{r.table:<40} listed {r.listed:>5}  skipped {r.skipped:>5}  loaded {r.loaded:>5}  "
                  f"quarantined {r.quarantined:>3}  rows {r.rows:>9}  {r.seconds:>7.1f}s")
    return 0
