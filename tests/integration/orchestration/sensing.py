"""The real bronze_sensor ticked against a real Dagster instance, its run executed in this process.

Shared by the embedded and the native end-to-end tests: a tick is evaluated as
the daemon would (``build_sensor_context`` with the instance and the cursor of
the previous tick), and a run request is executed as the daemon would launch it
(the implicit asset job with the request's selection and tags).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from lakehouse.settings import Settings
from orchestration.dbt import DBT_ASSETS_NAME
from orchestration.project import TRANSFORMATION_DIR
from orchestration.resources import DBT_EXECUTABLE, dbt_env
from orchestration.sensors import SENSOR_NAME


class Sensor:
    """Ticks of the real bronze_sensor, cursor carried over like the daemon does."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.defs)
        result = self.defs.resolve_sensor_def(SENSOR_NAME)(context)
        self.cursor = result.cursor
        return result

    def run(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=self.instance, asset_selection=list(request.asset_selection),
                                      tags=dict(request.tags))


def dbt_ls(settings: Settings, target: Path, select: str) -> set[str]:
    """Model names ``dbt ls`` selects, the reference the sensor's selection must equal."""
    out = subprocess.run(
        [str(DBT_EXECUTABLE), "ls", "--select", select, "--resource-type", "model", "--output", "name", "--quiet",
         "--project-dir", str(TRANSFORMATION_DIR), "--profiles-dir", str(TRANSFORMATION_DIR),
         "--target-path", str(target)],
        env={**os.environ, **dbt_env(settings)}, capture_output=True, text=True, check=True,
    )
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def dbt_assets(defs: dg.Definitions) -> dg.AssetsDefinition:
    (assets,) = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == DBT_ASSETS_NAME]
    return assets


def model_keys(defs: dg.Definitions, names: set[str]) -> set[dg.AssetKey]:
    return {get_asset_key_for_model([dbt_assets(defs)], name) for name in names}


def materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}
