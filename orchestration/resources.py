"""Resources chosen by the settings: the dbt CLI on the mode's target, with its environment."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from lakehouse.settings import Settings
from orchestration.project import dbt_target


# The venv's dbt, whether or not the venv is on PATH (CI and `lakehouse up` call .venv/bin/... directly).
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def dbt_resource(project: DbtProject) -> DbtCliResource:
    """dbt on the project's target (duckdb embedded/native, dremio with docker compose)."""
    return DbtCliResource(project_dir=project, profiles_dir=str(project.profiles_dir), target=project.target,
                          dbt_executable=str(DBT_EXECUTABLE))


def dbt_env(settings: Settings) -> dict[str, str]:
    """What the dbt process needs from these settings (docs/transformation.md, "For other consumers").

    The dbt-duckdb plugin reads the lakehouse settings from the environment, so the
    values that tests and ``lakehouse up`` change are passed explicitly; the rest
    (credentials, endpoints) is inherited from this process's environment.
    """
    return {
        "DO_NOT_TRACK": "1",
        "LAKEHOUSE_MODE": settings.mode,
        "LAKEHOUSE_STATE_DIR": str(settings.state_dir),
        "LAKEHOUSE_BRONZE_NAMESPACE": settings.bronze_namespace,
        "LAKEHOUSE_DBT_TARGET": dbt_target(settings),
        "LAKEHOUSE_DUCKDB_PATH": str(settings.state_dir / "warehouse" / "lakehouse.duckdb"),
    }
