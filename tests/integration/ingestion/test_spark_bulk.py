"""The PySpark bulk loaders against Nessie on MinIO: same rows as the event path, same ledger.

Spark is slow to start on a small machine, so one session serves the module
and the tests are few.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import uuid
from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
import pytest

from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import MinioService, minio_client
from lakehouse.settings import Settings
from ingestion import ledger
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.specs import SPECS
from ingestion.storage import S3ObjectStore
from tests.integration.conftest import drop_namespace
from tests.integration.ingestion.conftest import SAMPLE, sales_csv

pytestmark = [
    pytest.mark.integration,
    pytest.mark.spark,
    # PySpark 3.5 leaves the local sockets of collect()/createDataFrame() to the garbage
    # collector; the ResourceWarning is theirs, not a leak of ours.
    pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"),
]

EXTRA = {
    # schema evolution, a rescued value, a zero-row file, a broken file, an unroutable key
    "raw/ecoride/sales/extra/sales_promo.csv": sales_csv(
        "S900001,C1,V1,FM-ION,2024-05-01,abc,0.00,cash,FutureMobility Denver,CO,SPRING", header=(
            "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,"
            "dealership,state,promo_code")),
    "raw/ecoride/sales/extra/empty.csv": sales_csv(),
    "raw/chargenet/sessions/extra/broken.json": '[{"session_id": "X1", "energy_kwh": 3',
    "raw/ecoride/notes/readme.txt": "not data",
}


@pytest.fixture(scope="module")
def landed(services: ServiceManager, native_settings: Settings) -> Iterator[tuple[Settings, list]]:
    suffix = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(native_settings, bucket=f"test-spark-{suffix}", bronze_namespace=f"bronze_spark_{suffix}")
    MinioService(settings).configure()
    store = S3ObjectStore(minio_client(settings), settings.bucket)
    for path in sorted((SAMPLE / "raw").rglob("*")):
        if path.is_file():
            store.put_bytes(path.relative_to(SAMPLE).as_posix(), path.read_bytes())
    for key, text in EXTRA.items():
        store.put_bytes(key, text.encode())
    yield settings, list(store.list("raw/"))
    catalog = open_catalog(settings)
    for namespace in (settings.bronze_namespace, f"{settings.bronze_namespace}_py"):
        drop_namespace(catalog, namespace)


@pytest.fixture(scope="module")
def spark(landed: tuple[Settings, list]):  # noqa: ANN201
    from ingestion.bronze.spark import spark_session

    session = spark_session(landed[0], "test-bronze-bulk", master="local[2]")
    yield session
    session.stop()
    # Collect PySpark's leaked sockets now, while this module's warning filter
    # applies, instead of in whichever test the garbage collector runs next.
    gc.collect()


def comparable(rows: pa.Table) -> Counter:
    """Rows as order-free JSON strings, without the one column that must differ."""
    return Counter(json.dumps({k: v for k, v in r.items() if k != "_ingested_at"}, sort_keys=True, default=str)
                   for r in rows.to_pylist())


def test_spark_and_pyiceberg_loads_of_the_same_files_have_identical_rows(spark, landed) -> None:  # noqa: ANN001
    from ingestion.bronze.bulk import bulk_load

    settings, objects = landed
    reports = {r.table: r for r in bulk_load(spark, settings, ("raw/",))}
    py_settings = dataclasses.replace(settings, bronze_namespace=f"{settings.bronze_namespace}_py")
    outcomes = BronzeLoader(py_settings).load(objects)

    sales = reports[f"{settings.bronze_namespace}.ecoride_sales"]
    assert (sales.new_columns, sales.quarantined) == (["promo_code"], 0)
    assert reports[f"{settings.bronze_namespace}.chargenet_charging_sessions"].quarantined == 1
    assert reports["(unroutable)"].quarantined == 1
    assert Counter(o.outcome for o in outcomes) == {"loaded": len(objects) - 2, "quarantined": 2}
    catalog = open_catalog(settings)
    for spec in SPECS:
        by_spark = catalog.load_table((settings.bronze_namespace, spec.table))
        by_python = catalog.load_table((py_settings.bronze_namespace, spec.table))
        assert by_spark.schema().column_names == by_python.schema().column_names, spec.name
        spark_rows, python_rows = by_spark.scan().to_arrow(), by_python.scan().to_arrow()
        assert spark_rows.num_rows == python_rows.num_rows > 0, spec.name
        assert comparable(spark_rows) == comparable(python_rows), spec.name
        assert by_spark.current_snapshot().summary["lakehouse.writer"] == "spark"


def test_files_loaded_by_spark_are_skipped_by_spark_and_by_the_event_path(spark, landed) -> None:  # noqa: ANN001
    from ingestion.bronze.bulk import bulk_load

    settings, objects = landed
    catalog = open_catalog(settings)
    before = {s.table: catalog.load_table((settings.bronze_namespace, s.table)).current_snapshot().snapshot_id
              for s in SPECS}
    reports = bulk_load(spark, settings, ("raw/ecoride/", "raw/chargenet/", "raw/vehicle_health/", "raw/docs/"))

    quarantined = {"raw/chargenet/sessions/extra/broken.json", "raw/ecoride/notes/readme.txt"}
    assert sum(r.loaded for r in reports) == 0
    assert sum(r.quarantined for r in reports) == 0  # quarantined by the first run: recorded, not tried again
    assert sum(r.skipped for r in reports) == len(objects)
    after = {s.table: catalog.load_table((settings.bronze_namespace, s.table)).current_snapshot().snapshot_id
             for s in SPECS}
    assert after == before
    outcomes = BronzeLoader(settings).load([o for o in objects if o.key not in quarantined])
    assert {o.outcome for o in outcomes} == {"duplicate"}


def test_files_spark_quarantined_are_skipped_by_the_listeners_reconcile_and_listed_by_quarantine_list(
        spark, landed, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    from lakehouse import cli
    from listener.dispatcher import Dispatcher
    from listener.metrics import ListenerMetrics
    from listener.replay import reconcile

    settings, _ = landed
    store = S3ObjectStore(minio_client(settings), settings.bucket)
    broken = "raw/ecoride/sales/extra/broken_spark.csv"
    store.put_bytes(broken, b"\xff\xfe not a sales csv \x00\x01")  # not UTF-8: encoding error in the probe
    from ingestion.bronze.bulk import bulk_load

    reports = {r.table: r for r in bulk_load(spark, settings, ("raw/ecoride/sales/extra/",))}
    assert reports[f"{settings.bronze_namespace}.ecoride_sales"].quarantined == 1

    loader = BronzeLoader(settings)  # the listener's loader, in a process that never saw the bulk run
    ledger.forget_indexes()
    obj = store.stat(broken)
    assert loader.pending([obj]) == []
    letters: list = []
    dispatcher = Dispatcher(loader, store, _Letters(letters), ListenerMetrics(), bucket=settings.bucket,
                            origin="test")
    report = reconcile(store, loader, dispatcher, "raw/")
    assert report.pending == [] and letters == []  # nothing loaded, nothing quarantined (or dead-lettered) again
    assert {o.outcome for o in loader.load([obj])} == {"duplicate"}

    args = cli.build_parser().parse_args(["quarantine", "list", "--json"])
    assert args.func(args, settings) == 0
    listed = {e["key"]: e for e in json.loads(capsys.readouterr().out)}
    assert set(listed) == {broken, "raw/chargenet/sessions/extra/broken.json", "raw/ecoride/notes/readme.txt"}
    assert listed[broken]["etag"] == obj.etag and listed[broken]["table"] == "ecoride_sales"
    assert listed["raw/ecoride/notes/readme.txt"]["reason"] == "unroutable_key"
    assert listed["raw/chargenet/sessions/extra/broken.json"]["reason"] == "parse_error"


class _Letters:
    def __init__(self, sink: list) -> None:
        self.sink = sink

    def publish(self, letters) -> None:  # noqa: ANN001
        self.sink.extend(letters)
