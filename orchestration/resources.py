"""Resources chosen by the settings: the dbt CLI on the mode's target, with its environment."""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from lakehouse.settings import Settings
from orchestration.dbt_cli import LakehouseDbtCli
from warehouse.dbt import DBT_EXECUTABLE, dbt_environment

__all__ = ["DBT_EXECUTABLE", "dbt_env", "dbt_resource"]


def dbt_resource(project: DbtProject, run_target: Path | None = None) -> DbtCliResource:
    """dbt on the project's target (duckdb embedded/native, dremio with docker compose).

    ``run_target``: one dbt target folder for every run (orchestration/dbt_cli.py: partial parsing).
    """
    return LakehouseDbtCli(project_dir=project, profiles_dir=str(project.profiles_dir), target=project.target,
                           dbt_executable=str(DBT_EXECUTABLE), run_target_path=str(run_target) if run_target else None)


def dbt_env(settings: Settings) -> dict[str, str]:
    """What the dbt process needs from these settings: ``warehouse.dbt.dbt_environment`` without the inherited
    variables (docs/transformation.md, "For other consumers"), laid over this process's environment.

    Holds secrets (S3 keys): pass it to the dbt process, never log it.
    """
    return dbt_environment(settings, base={})
