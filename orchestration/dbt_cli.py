"""The dbt CLI resource Dagster runs use: dagster-dbt's, minus per-run startup work it does not need here.

Measured on the sensor's path (docs/orchestration.md, "Latency"), dagster-dbt 0.29
spends per run, before dbt does anything:

* ``dbt --version`` in a subprocess, to learn the version of the executable — it
  is the venv's own dbt, so the installed dbt-core's version is the answer;
* a dbt adapter built in the run worker (profile, project, adapter import),
  used only to fetch row counts and column metadata, which these assets never ask for;
* a fresh target folder per invocation with the partial-parse file copied from
  ``transformation/target`` — which every other dbt user of the checkout
  (``lakehouse transform``, tests, other state folders) rewrites with its own
  profile, so dbt re-parses the whole project on most runs ("profile has changed").

``LakehouseDbtCli`` answers the version from package metadata, builds no adapter,
and gives the runs of one lakehouse one target folder of their own
(``run_target_path``, under its state folder): dbt keeps its partial-parse state
there from run to run. Runs never share it concurrently: the sensor waits for its
previous run and the ``dbt_duckdb`` pool admits one dbt step at a time.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version

from lakehouse.settings import Settings


def run_target_path(settings: Settings) -> Path:
    """Where this lakehouse's Dagster runs keep dbt's artifacts and partial-parse state."""
    return settings.state_dir / "dagster" / "dbt-target"


class LakehouseDbtCli(DbtCliResource):
    """``DbtCliResource`` for the venv's dbt-core (see the module docstring)."""

    run_target_path: str | None = None
    """One target folder for every run (None: dagster-dbt's folder per invocation)."""

    @cached_property
    def _cli_version(self) -> version.Version:  # dagster-dbt: `dbt --version` in a subprocess
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:  # noqa: ANN401 - dagster-dbt's signature
        return None  # only row-count / column-metadata fetches use it; the invocation handles None

    def _get_unique_target_path(self, *, context: Any) -> Path:  # noqa: ANN401 - dagster-dbt's signature
        if self.run_target_path is None:
            return super()._get_unique_target_path(context=context)
        return Path(self.run_target_path)
