"""dbt-duckdb plugin: every dbt connection gets :func:`warehouse.engine.configure`.

Declared in ``transformation/profiles.yml`` (``plugins: [{module: warehouse.dbt_plugin}]``).
dbt-duckdb calls ``configure_connection`` once per database connection, before
its own ``attach:`` list, so the bronze views and the Nessie catalog exist
before the first model runs. Settings come from the environment like every
other process (``LAKEHOUSE_*``, ``.env``).

Why a plugin and not sources with ``external_location``: the embedded views
need the table's *current* metadata file, which only the catalog knows at
run time; a plugin resolves it per connection, and the same code serves
``lakehouse query``. The plugin also publishes what incremental silver models
need to read only new bronze rows (:mod:`warehouse.increments`).
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from ingestion.catalog import open_catalog
from ingestion.specs import SPECS
from lakehouse.settings import Settings, load_settings
from warehouse import increments
from warehouse.engine import configure, uses_nessie


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._settings = load_settings()

    def configure_connection(self, conn: Any) -> None:
        # Nessie: the views read the live tables, so their metadata is loaded before the
        # attach (what is recorded as read is never newer than what the views see).
        tables = _nessie_tables(self._settings) if uses_nessie(self._settings) else {}
        # Embedded: the tables the views are pinned to; both: None where no table was found.
        tables.update(configure(conn, self._settings))
        increments.publish(conn, tables)


def _nessie_tables(settings: Settings) -> dict[str, Table | None]:
    """The bronze tables as Nessie holds them now (metadata only; the views read them live)."""
    catalog = open_catalog(settings)
    tables: dict[str, Table | None] = {}
    for spec in SPECS:
        try:
            tables[spec.table] = catalog.load_table((settings.bronze_namespace, spec.table))
        except NoSuchTableError:
            tables[spec.table] = None
    return tables
