"""``lakehouse query SQL``: DuckDB over the lakehouse's Iceberg tables, for a first look.

Every ``namespace.table`` the SQL names that exists in the catalog (SQLite when
embedded, Nessie otherwise) is scanned with pyiceberg into Arrow and exposed to
DuckDB under the same name, so ``select count(*) from bronze.ecoride_sales``
works in every mode.

Hazard: each referenced table is read whole into memory; this is a
convenience for small tables and the sample data, not the SQL engine (that is
DuckDB via dbt, or Dremio).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings

_NAME = re.compile(r'"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)"?')


def referenced_tables(sql: str, catalog: Catalog) -> list[tuple[str, str]]:
    """The ``(namespace, table)`` pairs in ``sql`` that name existing catalog tables."""
    namespaces = {ns[0] for ns in catalog.list_namespaces() if ns}
    found: list[tuple[str, str]] = []
    for namespace, table in _NAME.findall(sql):
        if namespace in namespaces and (namespace, table) not in found and catalog.table_exists((namespace, table)):
            found.append((namespace, table))
    return found


def run_query(settings: Settings, sql: str, catalog: Catalog | None = None) -> pa.Table:
    """Run ``sql`` in an in-memory DuckDB that sees the referenced Iceberg tables."""
    from ingestion.catalog import open_catalog

    catalog = catalog if catalog is not None else open_catalog(settings)
    con = duckdb.connect()
    try:
        for i, (namespace, table) in enumerate(referenced_tables(sql, catalog)):
            data = catalog.load_table((namespace, table)).scan().to_arrow()
            con.register(f"__iceberg_{i}", data)
            con.execute(f'create schema if not exists "{namespace}"')
            con.execute(f'create view "{namespace}"."{table}" as select * from __iceberg_{i}')
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise LakehouseError(f"query failed: {exc}") from exc
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
    p.add_argument("sql", help='e.g. "select count(*) from bronze.ecoride_sales"')
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.add_argument("--max-rows", type=int, default=50, help="rows to print (default 50)")
    p.set_defaults(func=query_command)


def query_command(args: argparse.Namespace, settings: Settings) -> int:
    table = run_query(settings, args.sql)
    if args.json:
        print(json.dumps(table.slice(0, args.max_rows).to_pylist(), default=str, ensure_ascii=False, indent=2))
    else:
        print(format_table(table, args.max_rows))
    return 0
