"""End to end on the native stack: MinIO -> Kafka -> listener -> Nessie bronze -> bronze_sensor -> dbt -> gold.

Files are uploaded to a bucket of this module's own (one with ``mc cp``, as users
do); MinIO's event goes through Kafka to a real listener, which loads it into a
bronze namespace of the module's own in Nessie. The real bronze_sensor is ticked
against a real Dagster instance and its run executed as the daemon would launch it
(sensing.py): dbt on DuckDB writes silver as Iceberg tables into a silver namespace
of the module's own in Nessie (DESIGN §8), gold views into a DuckDB file in a temp
state folder. Needs the native services: skipped without them, FAILS under CI=true
(tests/integration/conftest.py).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from minio import Minio

from ingestion.catalog import open_catalog
from ingestion.specs import route
from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import MinioService, minio_client
from lakehouse.settings import Settings
from orchestration.assemble import build_definitions
from orchestration.prepare import prepare
from tests.integration.conftest import _drop_test_data, drop_namespace
from tests.integration.listener.conftest import (
    Bronze,
    mc,
    position_group_at_end,
    put,
    record_count,
    running_listener,
    wait_for,
    wait_for_partitions,
)
from tests.integration.orchestration.lake import SAMPLE_RAW
from tests.integration.orchestration.sensing import Sensor, dbt_assets, dbt_ls, materialized, model_keys
from warehouse.query import run_query

pytestmark = pytest.mark.integration

REFERENCE = ("ecoride/vehicles/vehicles.csv", "ecoride/customers/customers.csv")
SALES_JAN = "ecoride/sales/sales_2023-01.csv"
SALES_FEB = "ecoride/sales/sales_2023-02.csv"


@pytest.fixture(scope="module")
def settings(services: ServiceManager, native_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A bucket, consumer group, bronze and silver namespaces and state folder of this module's own."""
    suffix = uuid.uuid4().hex[:8]
    isolated = dataclasses.replace(
        native_settings, bucket=f"test-orch-{suffix}", consumer_group=f"test-orch-{suffix}",
        bronze_namespace=f"bronze_orch_{suffix}", silver_namespace=f"silver_orch_{suffix}",
        state_dir=tmp_path_factory.mktemp("orchestration-native") / "state",
    )
    MinioService(isolated).configure()  # the bucket, with the raw/ -> Kafka notification
    position_group_at_end(isolated)
    yield isolated
    drop_namespace(open_catalog(isolated), isolated.silver_namespace)
    _drop_test_data(isolated)  # bronze namespace and bucket


@pytest.fixture(scope="module")
def target(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbt-target")
    prepare(settings, path)
    return path


@pytest.fixture(scope="module")
def defs(settings: Settings, target: Path) -> dg.Definitions:
    return build_definitions(settings, target)


@pytest.fixture(scope="module")
def sensor(defs: dg.Definitions) -> Iterator[Sensor]:
    with dg.instance_for_test() as instance:
        yield Sensor(defs, instance)


@pytest.fixture(scope="module")
def listener(settings: Settings) -> Iterator[None]:
    """A real listener on Kafka for the module's bucket (a thread of this process)."""
    with running_listener(settings) as running:
        wait_for_partitions(running)
        yield


def upload(settings: Settings, s3: Minio, bronze: Bronze, relative: str, with_mc: bool = False) -> int:
    """Upload a sample file under raw/ and wait until the listener has loaded all its rows."""
    key, path = f"raw/{relative}", SAMPLE_RAW / relative
    if with_mc:
        mc(settings, "cp", str(path), f"local/{settings.bucket}/{key}")
    else:
        put(s3, settings, key, path.read_bytes())
    rows = record_count(path.name, path.read_bytes())
    spec = route(key)
    assert spec is not None
    wait_for(f"{key} in bronze", lambda: bronze.rows_per_key(spec.table)[key] == rows, timeout=120)
    return rows


def gold_months(settings: Settings) -> dict[str, int]:
    rows = run_query(settings, "select strftime(month, '%Y-%m') as m, sum(units) as u from gold.sales_monthly group by 1").to_pylist()
    return {r["m"]: int(r["u"]) for r in rows}


def test_an_uploaded_sales_file_goes_through_kafka_the_listener_and_the_sensor_to_gold_in_exactly_the_listed_models(
    settings: Settings, listener: None, target: Path, defs: dg.Definitions, sensor: Sensor
) -> None:
    s3, bronze = minio_client(settings), Bronze(settings)
    for relative in (*REFERENCE, SALES_JAN):
        upload(settings, s3, bronze, relative)

    # First load of a fresh lakehouse: every model is still unbuilt, so the run builds them all once.
    (first,) = sensor.tick().run_requests
    everything = set(dbt_assets(defs).keys)
    assert set(first.asset_selection) == everything
    assert first.tags["lakehouse/bronze_tables"] == "ecoride_customers,ecoride_sales,ecoride_vehicles"
    result = sensor.run(first)
    assert result.success
    assert materialized(result) == everything
    assert set(gold_months(settings)) == {"2023-01"}
    assert not sensor.tick().run_requests  # nothing new

    # One more sales file, copied with mc: exactly what dbt lists downstream of the sales source runs.
    upload(settings, s3, bronze, SALES_FEB, with_mc=True)
    (request,) = sensor.tick().run_requests
    expected = model_keys(defs, dbt_ls(settings, target, "source:bronze.ecoride_sales+"))
    assert set(request.asset_selection) == expected
    assert request.tags["lakehouse/bronze_tables"] == "ecoride_sales"
    assert request.tags["lakehouse/bronze_files"] == "1"
    result = sensor.run(request)

    assert result.success
    assert materialized(result) == expected
    months = gold_months(settings)
    assert sorted(months) == ["2023-01", "2023-02"]
    [silver] = run_query(settings, "select count(*) as n from silver.ecoride_sales").to_pylist()
    assert sum(months.values()) == silver["n"]
    # Silver is Iceberg in the module's own Nessie namespace, readable by any Iceberg client.
    table = open_catalog(settings).load_table((settings.silver_namespace, "ecoride_sales"))
    assert table.scan(selected_fields=("sale_id",)).to_arrow().num_rows == silver["n"]
