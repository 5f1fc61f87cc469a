"""bronze_sensor on a real SQLite Iceberg catalog and a persistent Dagster test instance.

Files are loaded with the project's BronzeLoader, so the snapshots, summaries and
manifests the sensor reads are the ones the listener writes. The model graph is
a small stand-in (the real one is tested in test_orchestration_definitions.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.settings import Settings
from orchestration.bronze import bronze_key
from orchestration.lineage import ModelGraph
from orchestration.sensors import (
    SENSOR_NAME, SENSOR_NAME_TAG, TAG_FILES, TAG_ROWS, TAG_SNAPSHOTS, TAG_TABLES, TAG_UNBUILT, Cursor,
    build_bronze_sensor,
)
from tests.integration.orchestration.lake import Lake

SALES_JAN = "ecoride/sales/sales_2023-01.csv"
SALES_FEB = "ecoride/sales/sales_2023-02.csv"
STATIONS = "chargenet/stations/stations.json"
NOW = 2_000_000_000.0  # the injected clock

SILVER_SALES = dg.AssetKey(["silver", "silver_ecoride_sales"])
GOLD_SALES = dg.AssetKey(["gold", "sales_monthly"])
SILVER_STATIONS = dg.AssetKey(["silver", "silver_chargenet_stations"])
GOLD_STATIONS = dg.AssetKey(["gold", "station_utilization"])
SILVER_CUSTOMERS = dg.AssetKey(["silver", "silver_ecoride_customers"])
GOLD_CUSTOMERS = dg.AssetKey(["gold", "customer_value"])
# bronze -> silver -> gold, as dbt would describe it.
MODELS = [
    dg.AssetSpec(SILVER_SALES, deps=[bronze_key("ecoride_sales")]),
    dg.AssetSpec(SILVER_CUSTOMERS, deps=[bronze_key("ecoride_customers")]),
    dg.AssetSpec(GOLD_SALES, deps=[SILVER_SALES]),
    dg.AssetSpec(GOLD_CUSTOMERS, deps=[SILVER_SALES, SILVER_CUSTOMERS]),
    dg.AssetSpec(SILVER_STATIONS, deps=[bronze_key("chargenet_stations")]),
    dg.AssetSpec(GOLD_STATIONS, deps=[SILVER_STATIONS]),
]
SALES_MODELS = {SILVER_SALES, GOLD_SALES, GOLD_CUSTOMERS}


@pytest.fixture
def lake(base_settings: Settings, tmp_path: Path) -> Lake:
    return Lake.create(base_settings, tmp_path / "state")


@pytest.fixture
def fresh_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:  # persistent (SQLite) in its own temp DAGSTER_HOME
        yield instance


@pytest.fixture
def instance(fresh_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """An instance where every model was built once, so selections are exactly what is downstream."""
    built(fresh_instance, *(m.key for m in MODELS))
    return fresh_instance


@pytest.fixture
def sensor(lake: Lake) -> dg.SensorDefinition:
    return build_bronze_sensor(
        open_catalog=lambda: lake.catalog,
        namespace=lake.settings.bronze_namespace,
        graph=ModelGraph(MODELS),
        target=dg.AssetSelection.assets(*(m.key for m in MODELS)),
        interval_seconds=5,
        clock=lambda: NOW,
    )


class Runs:
    """Runs as the daemon would leave them; the one place this file touches run storage."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance

        @dg.op
        def noop() -> None:
            pass

        @dg.job(name="stand_in")
        def stand_in() -> None:
            noop()

        self.job = stand_in

    def start(self, request: dg.RunRequest, status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED) -> dg.DagsterRun:
        tags = {**request.tags, SENSOR_NAME_TAG: SENSOR_NAME}
        return self.instance.create_run_for_job(self.job, status=status, tags=tags)

    def finish(self, run: dg.DagsterRun) -> None:
        self.instance.report_run_failed(run)  # any terminal state releases the sensor


@pytest.fixture
def runs(instance: dg.DagsterInstance) -> Runs:
    return Runs(instance)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def built(instance: dg.DagsterInstance, *keys: dg.AssetKey) -> None:
    """Record that models exist (as a finished dbt run would)."""
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(key))


def only_request(result: dg.SensorResult) -> dg.RunRequest:
    assert len(result.run_requests) == 1, result.run_requests
    return result.run_requests[0]


def test_first_tick_on_an_empty_lakehouse_requests_nothing(sensor, instance) -> None:
    result = tick(sensor, instance, None)

    assert not result.run_requests
    assert Cursor.parse(result.cursor).snapshots == {}


def test_first_tick_treats_every_table_with_data_as_new(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN, STATIONS)

    result = tick(sensor, instance, None)

    request = only_request(result)
    assert set(request.asset_selection) == {*SALES_MODELS, SILVER_STATIONS, GOLD_STATIONS}
    assert {e.asset_key for e in result.asset_events} == {bronze_key("ecoride_sales"), bronze_key("chargenet_stations")}
    assert Cursor.parse(result.cursor).snapshots == {
        "ecoride_sales": lake.snapshot_id("ecoride_sales"), "chargenet_stations": lake.snapshot_id("chargenet_stations"),
    }


def test_nothing_new_requests_nothing_and_keeps_the_cursor(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)

    second = tick(sensor, instance, first.cursor)

    assert not second.run_requests and not second.asset_events
    assert second.cursor == first.cursor


def test_one_table_new_selects_exactly_its_downstream_models(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN, STATIONS)
    first = tick(sensor, instance, None)
    outcomes = lake.drop_sample(SALES_FEB)

    result = tick(sensor, instance, first.cursor)

    request = only_request(result)
    assert set(request.asset_selection) == SALES_MODELS  # no bronze asset, no station model
    snapshot = lake.snapshot_id("ecoride_sales")
    assert request.run_key == f"bronze:ecoride_sales={snapshot}"
    assert request.tags[TAG_TABLES] == "ecoride_sales"
    assert request.tags[TAG_SNAPSHOTS] == f"ecoride_sales={snapshot}"
    assert request.tags[TAG_FILES] == "1"
    assert request.tags[TAG_ROWS] == str(outcomes[0].rows)
    (event,) = result.asset_events
    assert event.asset_key == bronze_key("ecoride_sales")
    assert event.metadata["rows_added"].value == outcomes[0].rows
    assert event.metadata["source_files_added"].value == 1
    assert event.metadata["snapshot_id"].value == str(snapshot)
    assert event.metadata["sample_source_keys"].value == [f"raw/{SALES_FEB}"]
    committed = lake.catalog.load_table(("bronze", "ecoride_sales")).current_snapshot().timestamp_ms / 1000
    assert event.metadata["seconds_since_commit"].value == pytest.approx(NOW - committed, abs=0.01)
    assert Cursor.parse(result.cursor).snapshots["ecoride_sales"] == snapshot


def test_two_tables_new_in_one_tick_make_one_run_of_the_union(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)
    lake.drop_sample(SALES_FEB)
    lake.drop_sample(STATIONS)

    result = tick(sensor, instance, first.cursor)

    request = only_request(result)
    assert set(request.asset_selection) == {*SALES_MODELS, SILVER_STATIONS, GOLD_STATIONS}
    assert request.tags[TAG_TABLES] == "chargenet_stations,ecoride_sales"
    assert request.tags[TAG_FILES] == "2"
    assert {e.asset_key for e in result.asset_events} == {bronze_key("ecoride_sales"), bronze_key("chargenet_stations")}


def test_several_commits_of_one_table_between_ticks_are_counted_together(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)
    feb = lake.drop_sample(SALES_FEB)
    mar = lake.drop_sample("ecoride/sales/sales_2023-03.csv")

    result = tick(sensor, instance, first.cursor)

    (event,) = result.asset_events
    assert event.metadata["snapshots"].value == 2
    assert event.metadata["rows_added"].value == feb[0].rows + mar[0].rows
    assert set(event.metadata["sample_source_keys"].value) == {f"raw/{SALES_FEB}", "raw/ecoride/sales/sales_2023-03.csv"}
    assert only_request(result).tags[TAG_FILES] == "2"


# QUEUED needs a remote job origin, which only the webserver/daemon create: it is
# covered by the dagster dev test (tests/integration/orchestration/test_dagster_dev.py).
@pytest.mark.parametrize("status", [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                                    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
def test_run_in_progress_skips_without_advancing_the_cursor(sensor, instance, lake: Lake, runs: Runs, status) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)
    runs.start(only_request(first), status)
    lake.drop_sample(SALES_FEB)

    result = tick(sensor, instance, first.cursor)

    assert isinstance(result, dg.SkipReason)
    assert "wait" in result.skip_message


def test_pending_change_is_picked_up_in_one_run_after_the_run_ends(sensor, instance, lake: Lake, runs: Runs) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)
    run = runs.start(only_request(first))
    lake.drop_sample(SALES_FEB)
    assert isinstance(tick(sensor, instance, first.cursor), dg.SkipReason)
    lake.drop_sample(STATIONS)  # piles up too
    runs.finish(run)

    result = tick(sensor, instance, first.cursor)

    request = only_request(result)
    assert set(request.asset_selection) == {*SALES_MODELS, SILVER_STATIONS, GOLD_STATIONS}
    assert request.tags[TAG_TABLES] == "chargenet_stations,ecoride_sales"
    assert Cursor.parse(result.cursor).snapshots["ecoride_sales"] == lake.snapshot_id("ecoride_sales")


def test_a_run_of_another_sensor_or_job_does_not_hold_the_sensor(sensor, instance, lake: Lake, runs: Runs) -> None:
    lake.drop_sample(SALES_JAN)
    instance.create_run_for_job(runs.job, status=dg.DagsterRunStatus.STARTED, tags={SENSOR_NAME_TAG: "other"})

    assert only_request(tick(sensor, instance, None))


def test_quarantine_only_batch_triggers_nothing(sensor, instance, lake: Lake) -> None:
    lake.drop_sample(SALES_JAN)
    first = tick(sensor, instance, None)
    outcomes = lake.drop({
        "raw/ecoride/sales/broken.csv.gz": b"\x1f\x8b\x08 truncated gzip",  # existing table: no commit
        "raw/chargenet/sessions/broken.jsonl": b"{not json",  # new table: created with its empty snapshot only
        "raw/nowhere/file.txt": b"unroutable",
    })
    assert {o.outcome for o in outcomes} == {"quarantined"}

    result = tick(sensor, instance, first.cursor)

    assert not result.run_requests and not result.asset_events
    seen = Cursor.parse(result.cursor).snapshots
    assert seen["ecoride_sales"] == Cursor.parse(first.cursor).snapshots["ecoride_sales"]
    # the new table's empty first snapshot was seen (cursor moved) but is no data
    assert seen["chargenet_charging_sessions"] == lake.snapshot_id("chargenet_charging_sessions")


def test_a_table_no_model_reads_records_its_materialization_without_a_run(sensor, instance, lake: Lake) -> None:
    lake.drop_sample("chargenet/sessions/sessions_2024-01-01.jsonl")

    result = tick(sensor, instance, None)

    assert not result.run_requests
    assert [e.asset_key for e in result.asset_events] == [bronze_key("chargenet_charging_sessions")]


def test_never_built_models_join_the_run_so_every_model_it_reads_exists(sensor, fresh_instance, lake: Lake) -> None:
    built(fresh_instance, *SALES_MODELS, GOLD_STATIONS)  # customers' and stations' silver: never built
    lake.drop_sample(SALES_JAN)

    request = only_request(tick(sensor, fresh_instance, None))

    assert set(request.asset_selection) == SALES_MODELS | {SILVER_CUSTOMERS, SILVER_STATIONS}
    assert request.tags[TAG_UNBUILT] == "2"


def test_cursor_is_readable_json_of_snapshot_ids() -> None:
    cursor = Cursor({"b": 2, "a": 1})

    assert json.loads(cursor.dump()) == {"snapshots": {"a": 1, "b": 2}}
    assert Cursor.parse(cursor.dump()) == cursor
    assert Cursor.parse(None).snapshots == {}
