"""Assemble the code location for a given Settings (definitions.py does it for the process's settings).

A function rather than module-level objects so tests build Definitions for their
own temp lakehouse and dbt target path without touching the environment.
"""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg

from ingestion.catalog import open_catalog
from lakehouse.settings import Settings
from orchestration.bronze import BRONZE_ASSETS
from orchestration.dbt import build_dbt_assets, full_rebuild_job
from orchestration.dbt_cli import run_target_path
from orchestration.lineage import ModelGraph
from orchestration.project import dbt_project
from orchestration.resources import dbt_resource
from orchestration.sensors import build_bronze_sensor

# "Materialize all" in the UI runs the implicit asset job: the sensor waits for it too.
IMPLICIT_ASSET_JOB = "__ASSET_JOB"


def build_definitions(settings: Settings, target_path: Path | str = "target") -> dg.Definitions:
    """Bronze specs + dbt assets + the full_rebuild job + bronze_sensor, for these settings."""
    project = dbt_project(settings, target_path)
    dbt_models = build_dbt_assets(project, settings)
    full_rebuild = full_rebuild_job(dbt_models)
    sensor = build_bronze_sensor(
        open_catalog=functools.cache(lambda: open_catalog(settings)),  # one catalog per code server
        namespace=settings.bronze_namespace,
        graph=ModelGraph(dbt_models.specs),
        target=dbt_models,
        interval_seconds=settings.sensor_interval_seconds,
        blocking_jobs=frozenset({full_rebuild.name, IMPLICIT_ASSET_JOB}),
    )
    return dg.Definitions(
        assets=[*BRONZE_ASSETS, dbt_models],
        jobs=[full_rebuild],
        sensors=[sensor],
        resources={"dbt": dbt_resource(project, run_target_path(settings))},
        # One op (dbt) per run: a step subprocess would only load this code location a second time.
        executor=dg.in_process_executor,
    )

