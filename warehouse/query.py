"""``lakehouse query [--json] SQL``: DuckDB over bronze, silver and gold by their names.

Each query gets its own in-memory DuckDB, set up like dbt's connections
(:func:`warehouse.engine.configure`): ``bronze.<table>`` reads the Iceberg
tables through DuckDB's Iceberg reader (only the files and columns the query
needs), on Nessie ``silver.<table>`` reads the Iceberg tables dbt wrote. The dbt
database (gold views; silver tables in embedded mode) is attached READ-ONLY as
``lakehouse`` and made the default, so ``gold.sales_monthly`` resolves.

DuckDB allows one writing process and no readers beside it, so a query never
waits for a dbt run: it attaches the published copy (:func:`warehouse.dbt.publish`)
when that is at least as new as the live file, else tries the live file and,
if dbt holds it, falls back to the published copy — the state of the last
published build.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings
from warehouse import engine
from warehouse.dbt import DATABASE, duckdb_path, published_path

log = logging.getLogger(__name__)


class QueryError(LakehouseError):
    """The SQL failed (message from DuckDB)."""


def connect(settings: Settings, catalog: Catalog | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that sees ``bronze.*``, ``silver.*`` and ``gold.*``."""
    con = duckdb.connect()
    engine.configure(con, settings, catalog)
    if engine.uses_nessie(settings):
        _nessie_silver_views(con, settings.silver_namespace)
    attached = attach_dbt_database(con, settings)
    if attached is not None:
        con.execute(f"use {DATABASE}")
    return con


def attach_dbt_database(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path | None:
    """Attach the newest readable dbt database as ``lakehouse`` (read-only); None if there is none."""
    live, published = duckdb_path(settings), published_path(settings)
    candidates = [p for p in (live, published) if p.is_file()]
    if published.is_file() and live.is_file() and published.stat().st_mtime >= live.stat().st_mtime:
        candidates = [published]
    for path in candidates:
        try:
            con.execute(f"attach {engine.sql_literal(str(path))} as {DATABASE} (read_only)")
        except duckdb.IOException as exc:  # a dbt run holds the write lock
            log.debug("cannot attach %s (%s); trying the published copy", path, exc)
            continue
        return path
    return None


def _nessie_silver_views(con: duckdb.DuckDBPyConnection, namespace: str) -> None:
    """``silver.<table>`` for the Iceberg tables dbt wrote to ``nessie.<silver namespace>``."""
    tables = con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = ?", [engine.NESSIE, namespace]
    ).fetchall()
    con.execute(f"attach if not exists ':memory:' as {engine.SILVER}")
    for (table,) in tables:
        con.execute(f'create or replace view {engine.SILVER}.main."{table}" as select * from {engine.NESSIE}."{namespace}"."{table}"')


def run_query(settings: Settings, sql: str, catalog: Catalog | None = None) -> pa.Table:
    """Run ``sql`` and return all rows as Arrow."""
    con = connect(settings, catalog)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()


def format_table(table: pa.Table, max_rows: int = 50) -> str:
    """A plain aligned text rendering (the first ``max_rows`` rows)."""
    names = table.column_names
    rows = [[_cell(v) for v in row.values()] for row in table.slice(0, max_rows).to_pylist()]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    if table.num_rows > max_rows:
        lines.append(f"... {table.num_rows - max_rows} more rows")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def add_query_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sql", help='e.g. "select count(*) from bronze.ecoride_sales" or "select * from gold.sales_monthly"')
    p.add_argument("--json", action="store_true", help="print a JSON array of row objects")
    p.add_argument("--max-rows", type=int, help="rows to print (default: 50 as text, all as JSON)")
    p.set_defaults(func=query_command)


def query_command(args: argparse.Namespace, settings: Settings) -> int:
    table = run_query(settings, args.sql)
    if args.json:
        rows = table.slice(0, args.max_rows).to_pylist() if args.max_rows is not None else table.to_pylist()
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
    else:
        print(format_table(table, 50 if args.max_rows is None else args.max_rows))
    return 0
