"""dbt-duckdb plugin: every dbt connection gets :func:`warehouse.engine.configure`.

Declared in ``transformation/profiles.yml`` (``plugins: [{module: warehouse.dbt_plugin}]``).
dbt-duckdb calls ``configure_connection`` once per database connection, before
its own ``attach:`` list, so the bronze views and the Nessie catalog exist
before the first model runs. Settings come from the environment like every
other process (``LAKEHOUSE_*``, ``.env``).

Why a plugin and not sources with ``external_location``: the embedded views
need the table's *current* metadata file, which only the catalog knows at
run time; a plugin resolves it per connection, and the same code serves
``lakehouse query``.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from lakehouse.settings import load_settings
from warehouse.engine import configure


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._settings = load_settings()

    def configure_connection(self, conn: Any) -> None:
        configure(conn, self._settings)
