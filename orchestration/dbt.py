"""Every dbt model an asset, every dbt test an asset check (dagster-dbt).

Keys read as the SQL names: dbt sources become the bronze assets ``["bronze", <table>]``
(orchestration/bronze.py), models ``[<folder>, <relation>]`` — ``silver.ecoride_sales``,
``gold.sales_monthly`` — in groups ``silver`` and ``gold`` (the folder under ``models/``). dbt tests are asset checks; an
error-severity test blocks the models downstream of the one it tests.
"""

# No `from __future__ import annotations` here: Dagster reads the asset body's
# `config: DbtBuildConfig` annotation at definition time and cannot resolve a string.
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings
from lakehouse.state import private_dir
from orchestration import dbt_inprocess
from orchestration.bronze import BRONZE_GROUP, bronze_key
from orchestration.dbt_cli import run_target_path
from orchestration.project import dbt_project, require_manifest
from orchestration.resources import dbt_env
from warehouse.dbt import duckdb_path, publish

DBT_ASSETS_NAME = "dbt_models"
# One dbt process at a time: a DuckDB file has one writer. The sensor already waits
# for its own runs; this pool also serialises runs started from the UI.
DBT_POOL = "dbt_duckdb"


class DbtBuildConfig(dg.Config):
    """Run configuration of the dbt assets."""

    full_refresh: bool = False
    """Rebuild incremental silver models from all of bronze (``dbt build --full-refresh``)."""


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """The dbt command line for a run (pure: unit-tested).

    dbt unit tests are left to CI (``lakehouse transform``/pytest): they need an
    incremental model's own table to exist, which on a fresh lakehouse it does
    not, and they test SQL, not data. Data tests run and are the asset checks.
    """
    return ["build", "--exclude-resource-type", "unit_test", *(["--full-refresh"] if config.full_refresh else [])]


def layer_of(props: Mapping[str, Any]) -> str | None:
    """The model's folder under models/ (``silver``, ``gold``), from its fully qualified name."""
    fqn = props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else None


class LakehouseTranslator(DagsterDbtTranslator):
    """Sources -> bronze asset keys; models keyed and grouped by their layer."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=bronze_key(props["name"]), group_name=BRONZE_GROUP)
        layer = layer_of(props)
        if layer is None:
            return spec
        relation = props.get("alias") or props["name"]  # silver_ecoride_sales -> silver.ecoride_sales
        return spec.replace_attributes(key=dg.AssetKey([layer, relation]), group_name=layer)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set while dbt's subprocess starts (it inherits the environment)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def build_dbt_assets(project: DbtProject, settings: Settings) -> dg.AssetsDefinition:
    """The dbt models as one multi-asset whose body streams ``dbt build``, then publishes the DuckDB file.

    Publishing (``warehouse.dbt.publish``, as ``lakehouse transform`` does) lets
    ``lakehouse query`` read what this run built while the next run writes. It
    follows a successful build only (a failed one raises out of ``stream()``).
    """

    @dbt_assets(
        manifest=require_manifest(project),
        project=project,
        dagster_dbt_translator=LakehouseTranslator(),
        name=DBT_ASSETS_NAME,
        pool=DBT_POOL,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig) -> Iterator[Any]:
        if project.target == "duckdb":  # DuckDB creates its file, not the folder (a fresh native lakehouse has none)
            private_dir(duckdb_path(settings).parent)
        # settings -> LAKEHOUSE_* for the dbt plugin and profiles.yml, for as long as dbt runs
        # (the CLI inherits them when it starts; dbt in this process reads them throughout).
        with environment(dbt_env(settings)):
            yield from dbt.cli(dbt_build_args(config), context=context).stream()
        if project.target == "duckdb":
            try:
                published = publish(settings)
            except LakehouseError as exc:  # the models are built; readers fall back to the live file
                context.log.warning(f"dbt built the models but publishing them for `lakehouse query` failed: {exc}")
            else:
                context.log.info(f"published {published} for `lakehouse query`")

    return dbt_models


def warm_up_dbt(settings: Settings) -> None:
    """Import dbt and parse the project for this lakehouse's runs (orchestration/dbt_inprocess.py).

    A run worker calls it before its run arrives; the run's ``dbt build`` then runs in the worker.
    """
    project = dbt_project(settings)
    with environment(dbt_env(settings)):
        dbt_inprocess.warm_up(project.project_dir, project.profiles_dir, project.target, run_target_path(settings))


def full_rebuild_job(dbt_models: dg.AssetsDefinition) -> Any:  # an (unexported) UnresolvedAssetJobDefinition
    """Every dbt model and test: what "Materialize all" does, as a job to schedule or launch."""
    return dg.define_asset_job(
        "full_rebuild",
        selection=dg.AssetSelection.assets(dbt_models),
        description="Rebuild every silver and gold model (dbt build). Set full_refresh in the config to rebuild "
                    "incremental models from scratch.",
    )
