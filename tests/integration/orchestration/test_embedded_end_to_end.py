"""End to end on the embedded stack: bronze load -> bronze_sensor -> its run (real dbt on DuckDB) -> gold.

The run request is executed in-process exactly as the daemon would launch it
(the implicit asset job with the request's selection and tags; sensing.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from lakehouse.settings import Settings
from orchestration.assemble import build_definitions
from orchestration.dbt import environment, warm_up_dbt
from orchestration.dbt_inprocess import InProcessDbtInvocation
from orchestration.prepare import prepare
from orchestration.resources import dbt_env
from tests.integration.orchestration.lake import Lake
from tests.integration.orchestration.sensing import Sensor, dbt_assets, dbt_ls, materialized, model_keys
from warehouse.dbt import duckdb_path, published_path

SALES_JAN = "ecoride/sales/sales_2023-01.csv"
SALES_FEB = "ecoride/sales/sales_2023-02.csv"
VEHICLES = "ecoride/vehicles/vehicles.csv"
CUSTOMERS = "ecoride/customers/customers.csv"
STATIONS = "chargenet/stations/stations.json"
IN_PROCESS = "dbt runs in this process"  # the run's log line when a warm worker ran dbt (dbt_cli.py)


@pytest.fixture(scope="module")
def lake(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return Lake.create(base_settings, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def target(lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbt-target")
    prepare(lake.settings, path)
    return path


@pytest.fixture(scope="module")
def defs(lake: Lake, target: Path) -> dg.Definitions:
    return build_definitions(lake.settings, target)


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def sensor(defs: dg.Definitions, instance: dg.DagsterInstance) -> Sensor:
    return Sensor(defs, instance)


def messages(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(entry.user_message for entry in instance.all_logs(run_id))


def gold(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(duckdb_path(settings)), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_the_first_load_builds_every_model_once(lake, defs, instance, sensor) -> None:
    outcomes = lake.drop_sample(VEHICLES, CUSTOMERS, SALES_JAN)  # sales need their reference data
    assert {o.outcome for o in outcomes} == {"loaded"}

    (request,) = sensor.tick().run_requests
    everything = set(dbt_assets(defs).keys)
    assert set(request.asset_selection) == everything  # all never built: even models of empty tables
    result = sensor.run(request)

    assert result.success
    assert materialized(result) == everything
    ((units,),) = gold(lake.settings, "select sum(units) from gold.sales_monthly")
    ((valid,),) = gold(lake.settings, "select count(*) from silver.ecoride_sales")
    assert units == valid > 0


def test_a_new_sales_file_runs_exactly_what_dbt_lists_downstream_of_sales(lake, target, defs, sensor) -> None:
    lake.drop_sample(SALES_FEB)

    (request,) = sensor.tick().run_requests
    expected = model_keys(defs, dbt_ls(lake.settings, target, "source:bronze.ecoride_sales+"))
    assert set(request.asset_selection) == expected
    # As a spare run worker does before its run arrives: this run's dbt runs in this process.
    warm_up_dbt(lake.settings)
    published = published_path(lake.settings).stat().st_mtime_ns
    result = sensor.run(request)

    assert result.success
    assert IN_PROCESS in messages(sensor.instance, result.run_id)
    assert materialized(result) == expected
    # Every dbt test of the selected models came back as a passed asset check, as from the CLI.
    checks = {spec.key for spec in dbt_assets(defs).check_specs if spec.asset_key in expected}
    evaluated = {e.asset_check_key: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and set(evaluated) == checks and all(evaluated.values())
    # dbt let go of the DuckDB file: the run published it, and this process can read it.
    assert published_path(lake.settings).stat().st_mtime_ns > published
    months = gold(lake.settings, "select strftime(month, '%Y-%m'), sum(units) from gold.sales_monthly group by 1 order by 1")
    assert [m for m, _ in months] == ["2023-01", "2023-02"]
    ((valid,),) = gold(lake.settings, "select count(*) from silver.ecoride_sales")
    assert sum(u for _, u in months) == valid


def test_a_stations_file_then_runs_exactly_the_station_models_and_no_sales_model(lake, target, defs, sensor) -> None:
    lake.drop_sample(STATIONS)

    (request,) = sensor.tick().run_requests
    expected = model_keys(defs, dbt_ls(lake.settings, target, "source:bronze.chargenet_stations+"))
    assert set(request.asset_selection) == expected
    assert not expected & model_keys(defs, {"sales_monthly", "silver_ecoride_sales"})
    result = sensor.run(request)

    assert result.success
    assert IN_PROCESS not in messages(sensor.instance, result.run_id)  # no warm dbt left: the CLI
    assert materialized(result) == expected
    ((stations,),) = gold(lake.settings, "select count(*) from gold.station_utilization")
    assert stations > 0


def test_nothing_new_after_the_runs_requests_nothing(sensor) -> None:
    assert not sensor.tick().run_requests


def test_a_failing_dbt_command_in_process_fails_with_dbts_error(lake, defs) -> None:
    warm_up_dbt(lake.settings)
    dbt = defs.resources["dbt"]
    with environment(dbt_env(lake.settings)):
        invocation = dbt.cli(["run-operation", "no_such_macro"])
        assert isinstance(invocation, InProcessDbtInvocation)
        with pytest.raises(DagsterDbtCliRuntimeError, match="no_such_macro"):
            invocation.wait()
