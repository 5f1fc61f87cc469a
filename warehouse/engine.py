"""One DuckDB connection setup for every consumer: dbt, ``lakehouse query``, Dagster.

After :func:`configure` a connection sees the bronze tables as
``bronze.<table>`` (a small in-memory catalog named ``bronze`` holding one view
per table), whatever the mode and whatever Iceberg namespace the settings name,
so SQL never spells the namespace:

* **embedded** (SQLite catalog, which DuckDB cannot attach): each view is
  ``iceberg_scan('<current metadata.json>')``, the location resolved through
  pyiceberg at connect time. DuckDB plans from the manifests and reads only the
  Parquet files and columns a query needs, so nothing is loaded whole.
* **native / docker** (Nessie): the Iceberg REST catalog is attached as
  ``nessie`` exactly as DESIGN §7 checked it (S3 secret, ``ACCESS_DELEGATION_MODE
  'none'``, endpoint without the branch), and each view selects from
  ``nessie.<bronze_namespace>.<table>``. Silver is written there too
  (``nessie.silver``).

The extensions come from the ``duckdb-extension-*`` PyPI packages and are
loaded by file path: no download, and ``autoinstall_known_extensions`` is off so
a missing one fails loudly instead of reaching for the network.

Hazard: the embedded views pin the snapshot current at connect time; a
connection opened before a bronze commit does not see it (dbt opens a fresh
connection per invocation, ``lakehouse query`` per command).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import duckdb
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from ingestion.schema import arrow_schema
from ingestion.specs import SPECS
from lakehouse.errors import ConfigurationError
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("avro", "httpfs", "iceberg")
BRONZE = "bronze"  # the SQL name of the bronze catalog, in every mode
NESSIE = "nessie"  # the alias of the attached Iceberg REST catalog (native/docker)
SILVER = "silver"


def extension_path(name: str) -> Path:
    """The extension file shipped by ``duckdb-extension-<name>`` for this duckdb."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"package duckdb-extension-{name} is not installed; run scripts/bootstrap.sh")
    path = Path(spec.submodule_search_locations[0]) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise ConfigurationError(
            f"{path} is missing: duckdb-extension-{name} must have duckdb's exact version {duckdb.__version__} (constraints.txt)"
        )
    return path


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("set autoinstall_known_extensions = false")
    for name in EXTENSIONS:
        con.execute(f"load '{extension_path(name)}'")


def uses_nessie(settings: Settings) -> bool:
    return settings.mode != "embedded"


def configure(con: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog | None = None) -> dict[str, Table | None]:
    """Give ``con`` the extensions, UTC, the bronze views and (native) the attached Nessie catalog.

    Returns the bronze tables the views are pinned to (embedded mode), or None for
    a table not created yet (both modes; on Nessie the views read the live tables,
    so only the missing ones are named).
    """
    con.execute("set TimeZone = 'UTC'")
    load_extensions(con)
    if uses_nessie(settings):
        attach_nessie(con, settings)
    else:
        from ingestion.catalog import open_catalog

        catalog = catalog if catalog is not None else open_catalog(settings)
    return create_bronze_views(con, settings, catalog)


def attach_nessie(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Attach Nessie's Iceberg REST catalog as ``nessie`` (idempotent)."""
    attached = {row[0] for row in con.execute("select database_name from duckdb_databases()").fetchall()}
    if NESSIE in attached:
        return
    host = settings.s3_endpoint.split("://", 1)[-1]
    use_ssl = "true" if settings.s3_endpoint.startswith("https") else "false"
    con.execute(
        f"create or replace secret lakehouse_s3 (type s3, key_id {sql_literal(settings.s3_access_key)}, "
        f"secret {sql_literal(settings.s3_secret_key)}, endpoint {sql_literal(host)}, url_style 'path', "
        f"use_ssl {use_ssl}, region {sql_literal(settings.s3_region)})"
    )
    # Without the branch in the endpoint (with it the attach lists nothing); the
    # warehouse name is Nessie's default warehouse. Delegation off: MinIO
    # answers 403 to vended-credential requests.
    con.execute(
        f"attach 'warehouse' as {NESSIE} (type iceberg, endpoint {sql_literal(settings.nessie_uri + '/iceberg')}, "
        "authorization_type 'none', access_delegation_mode 'none')"
    )
    log.debug("attached Nessie Iceberg REST catalog at %s/iceberg", settings.nessie_uri)


def create_bronze_views(con: duckdb.DuckDBPyConnection, settings: Settings,
                        catalog: Catalog | None) -> dict[str, Table | None]:
    """``bronze.<table>`` for every dataset spec; an empty typed table for one not created yet."""
    con.execute(f"attach if not exists ':memory:' as {BRONZE}")
    pinned: dict[str, Table | None] = {}
    for spec in SPECS:
        target = f'{BRONZE}.main."{spec.table}"'
        source = _bronze_source(con, settings, catalog, spec.table, pinned)
        if source is None:
            # No file landed yet: same columns, no rows, so every model still builds.
            con.register("__lakehouse_empty", arrow_schema(spec.schema).empty_table())
            con.execute(f"create or replace table {target} as select * from __lakehouse_empty")
            con.unregister("__lakehouse_empty")
        else:
            con.execute(f"create or replace view {target} as select * from {source}")
    return pinned


def _bronze_source(con: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog | None, table: str,
                   pinned: dict[str, Table | None]) -> str | None:
    namespace = settings.bronze_namespace
    if uses_nessie(settings):
        found = con.execute(
            "select 1 from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
            [NESSIE, namespace, table],
        ).fetchall()
        if not found:
            pinned[table] = None
            return None
        return f'{NESSIE}."{namespace}"."{table}"'
    assert catalog is not None
    try:
        loaded = pinned[table] = catalog.load_table((namespace, table))
    except NoSuchTableError:
        pinned[table] = None
        return None
    return f"iceberg_scan({sql_literal(loaded.metadata_location)})"


def sql_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"
