"""The code location as Dagster loads it: graph shape, groups, checks, job, sensor, dbt arguments.

Built from a real ``dbt parse`` of transformation/ (into a temp target path, so a
concurrent dbt run elsewhere never shares partial-parse state).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import dagster as dg
import dagster_dbt.core.resource
import pytest

from ingestion.specs import SPECS
from lakehouse.errors import ConfigurationError
from lakehouse.settings import Settings
from orchestration.assemble import build_definitions
from orchestration.bronze import bronze_key
from orchestration.dbt import DBT_ASSETS_NAME, DbtBuildConfig, dbt_build_args
from orchestration.dbt_cli import LakehouseDbtCli
from orchestration.prepare import prepare
from orchestration.project import dbt_project, require_manifest
from orchestration.sensors import SENSOR_NAME, minimum_interval


@pytest.fixture(scope="module")
def settings(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path_factory.mktemp("state"),
                               sensor_interval_seconds=7)


@pytest.fixture(scope="module")
def target(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbt-target")
    prepare(settings, path)
    return path


@pytest.fixture(scope="module")
def defs(settings: Settings, target: Path) -> dg.Definitions:
    return build_definitions(settings, target)


@pytest.fixture(scope="module")
def manifest(target: Path) -> dict:
    return json.loads((target / "manifest.json").read_text())


@pytest.fixture(scope="module")
def graph(defs: dg.Definitions):  # noqa: ANN201 - Dagster's AssetGraph is not exported
    return defs.resolve_asset_graph()


def models(manifest: dict) -> dict[str, dict]:
    return {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def model_key(node: dict) -> dg.AssetKey:
    return dg.AssetKey([node["fqn"][1], node["alias"]])


def test_definitions_load(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_bronze_table_of_the_registry_is_an_external_asset_in_group_bronze(graph) -> None:
    for spec in SPECS:
        node = graph.get(bronze_key(spec.table))
        assert not node.is_materializable, spec.table  # written by the listener, not by Dagster
        assert node.group_name == "bronze"


def test_models_are_keyed_and_grouped_by_their_layer_folder(graph, manifest: dict) -> None:
    layers = {node["fqn"][1] for node in models(manifest).values()}
    assert "silver" in layers
    assert layers <= {"silver", "gold"}
    for node in models(manifest).values():
        asset = graph.get(model_key(node))
        assert asset.group_name == node["fqn"][1]
        assert asset.is_materializable


def test_every_bronze_asset_is_upstream_of_its_sources_models(graph, manifest: dict) -> None:
    for node in models(manifest).values():
        sources = [manifest["sources"][d] for d in node["depends_on"]["nodes"] if d.startswith("source.")]
        parents = graph.get(model_key(node)).parent_keys
        for source in sources:
            assert bronze_key(source["name"]) in parents, (node["name"], source["name"])


def test_no_asset_is_orphaned(graph, manifest: dict) -> None:
    bronze = {bronze_key(s.table) for s in SPECS}
    for node in models(manifest).values():
        key = model_key(node)
        assert graph.get(key).parent_keys, f"{key.to_user_string()} has no upstream asset"
        assert graph.get_ancestor_asset_keys(key) & bronze, f"{key.to_user_string()} reads no bronze table"
    fed = {k for k in bronze if graph.get(k).child_keys}
    assert fed == bronze, f"bronze tables no model reads: {sorted(k.to_user_string() for k in bronze - fed)}"
    assert graph.get_all_asset_keys() == bronze | {model_key(n) for n in models(manifest).values()}


def dbt_assets_def(defs: dg.Definitions) -> dg.AssetsDefinition:
    (assets,) = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == DBT_ASSETS_NAME]
    return assets


def test_dbt_tests_are_asset_checks_and_error_severity_blocks(defs: dg.Definitions, manifest: dict) -> None:
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"
             and manifest["nodes"].get(n.get("attached_node") or "", {}).get("resource_type") == "model"]
    assert tests, "the dbt project declares no data tests on models"
    checks = {spec.key.name: spec for spec in dbt_assets_def(defs).check_specs}
    for test in tests:
        spec = checks[test["name"]]
        assert spec.asset_key == model_key(manifest["nodes"][test["attached_node"]]), test["name"]
        assert spec.blocking == (test["config"]["severity"].lower() == "error"), test["name"]


def test_full_rebuild_job_selects_every_dbt_model(defs: dg.Definitions, manifest: dict) -> None:
    job = defs.resolve_job_def("full_rebuild")

    assert job.asset_layer.selected_asset_keys == {model_key(n) for n in models(manifest).values()}


def test_bronze_sensor_runs_by_default_at_the_configured_interval(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)

    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # 7 s between tick starts: Dagster counts the minimum from the previous tick's end.
    assert sensor.minimum_interval_seconds == 6
    assert minimum_interval(1) == 1


def test_dbt_models_share_one_pool_so_runs_never_write_duckdb_at_once(defs: dg.Definitions) -> None:
    assert dbt_assets_def(defs).node_def.pool == "dbt_duckdb"


def test_dbt_build_args_map_full_refresh_to_the_flag() -> None:
    assert dbt_build_args(DbtBuildConfig()) == ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(DbtBuildConfig(full_refresh=True))[-1] == "--full-refresh"


def test_a_missing_manifest_fails_with_the_command_that_builds_it(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="python -m orchestration.prepare"):
        require_manifest(dbt_project(settings, tmp_path / "nothing-here"))


def test_the_target_follows_the_mode(settings: Settings, tmp_path: Path) -> None:
    assert dbt_project(settings, tmp_path).target == "duckdb"
    assert dbt_project(dataclasses.replace(settings, mode="native"), tmp_path).target == "duckdb"
    assert dbt_project(dataclasses.replace(settings, mode="docker"), tmp_path).target == "dremio"


def test_runs_execute_in_the_run_worker_without_a_step_subprocess(defs: dg.Definitions) -> None:
    # One op per run: the multiprocess executor would only load the code location a second time.
    assert defs.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor
    assert defs.resolve_job_def("full_rebuild").executor_def is dg.in_process_executor


def test_runs_share_one_dbt_target_folder_under_the_state_dir_seeded_with_the_parse_state(
    defs: dg.Definitions, settings: Settings, target: Path
) -> None:
    resource = defs.resources["dbt"]
    runs = settings.state_dir / "dagster" / "dbt-target"

    assert isinstance(resource, LakehouseDbtCli)
    assert resource._get_unique_target_path(context=None) == runs
    # prepare copied its partial-parse state (made with this lakehouse's profile) for the runs
    assert (runs / "partial_parse.msgpack").read_bytes() == (target / "partial_parse.msgpack").read_bytes()


def test_the_dbt_resource_knows_the_dbt_version_without_a_subprocess_and_builds_no_adapter(
    defs: dg.Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = defs.resources["dbt"]
    printed = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True).stdout

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"subprocess started: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)  # what dagster-dbt calls
    fresh = LakehouseDbtCli(**{k: getattr(resource, k) for k in ("project_dir", "profiles_dir", "target", "dbt_executable")})
    assert f"installed: {fresh._cli_version}" in printed  # what `dbt --version` of the venv says
    assert fresh._initialize_dbt_core_adapter(["build"]) is None


def test_the_local_instance_launches_warm_runs_one_dbt_at_a_time(tmp_path: Path) -> None:
    """The dagster.yaml `lakehouse up` and `orchestration.dev` use, loaded by Dagster itself."""
    from orchestration.instance import EARLIER, MANAGED, dagster_home
    from orchestration.launcher import WarmRunLauncher

    settings = Settings(state_dir=tmp_path / "state")
    home = dagster_home(settings)
    assert oct(home.stat().st_mode & 0o777) == "0o700"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_launcher, WarmRunLauncher)
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
    config = home / "dagster.yaml"
    config.write_text(EARLIER[0])  # what an earlier version wrote: upgraded
    assert dagster_home(settings) and config.read_text().startswith(MANAGED)
    config.write_text("telemetry:\n  enabled: true\n")  # the user's own: kept
    assert dagster_home(settings) and config.read_text() == "telemetry:\n  enabled: true\n"
