"""The dbt project Dagster runs: ``transformation/``, on the target the settings choose.

Nothing here runs dbt. The manifest Dagster builds its asset graph from is
made explicitly by ``python -m orchestration.prepare`` (CI, the dev command),
never as an import side effect; loading the code location without it fails
with a message that says so.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from lakehouse.errors import ConfigurationError
from lakehouse.settings import Settings

TRANSFORMATION_DIR = Path(__file__).resolve().parent.parent / "transformation"


def dbt_target(settings: Settings) -> str:
    """The profiles.yml output for the mode: Dremio with docker compose, DuckDB otherwise (DESIGN §1)."""
    return "dremio" if settings.mode == "docker" else "duckdb"


def dbt_project(settings: Settings, target_path: Path | str = "target") -> DbtProject:
    """The dbt project with its profiles.yml beside it and the settings' target.

    ``target_path`` (relative to the project, or absolute) is where the manifest
    lives; tests give each session its own so parallel dbt processes never share
    partial-parse state.
    """
    return DbtProject(
        project_dir=TRANSFORMATION_DIR,
        profiles_dir=TRANSFORMATION_DIR,
        target=dbt_target(settings),
        target_path=Path(target_path),
    )


def require_manifest(project: DbtProject) -> Path:
    """The manifest path, or a ConfigurationError saying how to build it."""
    if not project.manifest_path.is_file():
        raise ConfigurationError(
            f"dbt manifest {project.manifest_path} is missing: run `.venv/bin/python -m orchestration.prepare` "
            "(it runs `dbt parse` on transformation/)"
        )
    return project.manifest_path
