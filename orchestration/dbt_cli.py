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

In a run worker that started dbt ahead of its run (orchestration/dbt_inprocess.py),
``cli`` runs dbt in that process instead of starting the CLI: the same arguments,
selection and events, without dbt's 3 s start.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import validate_manifest
from packaging import version

from lakehouse.settings import Settings
from orchestration import dbt_inprocess


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

    def cli(self, args: Sequence[str], *, raise_on_error: bool = True, manifest: Any = None,  # noqa: ANN401
            dagster_dbt_translator: DagsterDbtTranslator | None = None, context: Any = None,
            target_path: Path | None = None) -> DbtCliInvocation:
        """dagster-dbt's ``cli``, in this process when the worker warmed dbt up for exactly this call."""
        cli = functools.partial(super().cli, args, raise_on_error=raise_on_error, manifest=manifest,
                                dagster_dbt_translator=dagster_dbt_translator, context=context, target_path=target_path)
        if (dbt_inprocess.current() is None or self.run_target_path is None or target_path is not None
                or self.profile is not None or dbt_inprocess.needs_cli(args)):
            return cli()
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context, manifest=validate_manifest(manifest) if manifest else {}, dagster_dbt_translator=translator,
            runtime_selects=selects, runtime_excludes=excludes)
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        warm = dbt_inprocess.take(project_dir, Path(self.profiles_dir or project_dir), self.target or "",
                                  Path(self.run_target_path))
        if warm is None:
            return cli()
        indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
        run = dbt_inprocess.InProcessRun(warm, [*self.global_config_flags, *cleaned, *params.selection_args, *indirect])
        if context is not None:
            context.log.info(f"dbt runs in this process, imported and parsed ahead of the run: {' '.join(run.args)}")
        return dbt_inprocess.InProcessDbtInvocation(
            process=run, manifest=params.manifest, dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir, target_path=warm.target_path, raise_on_error=raise_on_error,
            cli_version=self._cli_version, project=params.dbt_project, context=context, adapter=None)
