"""The native stack does what the rest of the lakehouse relies on.

Real MinIO, real Kafka, real Nessie: objects under ``raw/`` become events on
``minio-events``, events survive a broker outage through MinIO's on-disk queue,
and Iceberg tables written through Nessie live in the bucket and survive a
restart of every service.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import time
import uuid

import pyarrow as pa
import pytest
from kafka import KafkaConsumer, TopicPartition
from minio import Minio

from ingestion.catalog import open_catalog
from lakehouse.cli import mc_environment
from lakehouse.services.artifacts import mc_binary
from lakehouse.services.manager import ServiceManager
from lakehouse.settings import Settings
from listener.events import ObjectCreated, parse_notification

pytestmark = pytest.mark.integration


class EventTap:
    """Reads ``minio-events`` from the offsets it had when created, for one bucket."""

    def __init__(self, settings: Settings, start_offsets: dict[TopicPartition, int] | None = None) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
        partitions = [TopicPartition(settings.events_topic, p) for p in self.consumer.partitions_for_topic(settings.events_topic)]
        self.consumer.assign(partitions)
        if start_offsets is None:
            self.consumer.seek_to_end()
            self.offsets = {tp: self.consumer.position(tp) for tp in partitions}
        else:
            self.offsets = start_offsets
            for tp, offset in start_offsets.items():
                self.consumer.seek(tp, offset)

    def collect(self, expected: int, timeout: float = 20.0, linger: float = 0.0) -> list[ObjectCreated]:
        """Events for our bucket until ``expected`` arrived (then ``linger`` more seconds) or ``timeout``."""
        events: list[ObjectCreated] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in self.consumer.poll(timeout_ms=500).values():
                for record in records:
                    events += [e for e in parse_notification(record.value) if isinstance(e, ObjectCreated) and e.bucket == self.settings.bucket]
            if len(events) >= expected:
                deadline = min(deadline, time.monotonic() + linger)
                if linger == 0:
                    break
        return events

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def tap(isolated_settings: Settings):  # noqa: ANN201
    tap = EventTap(isolated_settings)
    yield tap
    tap.close()


@pytest.mark.parametrize(
    "key",
    [
        "raw/ecoride/sales/sales_2024-01.csv",
        "raw/ecoride/sales/with space and+plus.csv",
        "raw/docs/brochures/Prospekt für Zürich – été.pdf",
    ],
)
def test_putting_an_object_under_raw_emits_an_event_with_decoded_key_size_and_etag(
    s3: Minio, isolated_settings: Settings, tap: EventTap, key: str
) -> None:
    body = f"id,value\n1,{uuid.uuid4()}\n".encode()
    result = s3.put_object(isolated_settings.bucket, key, io.BytesIO(body), len(body))

    events = tap.collect(expected=1)

    assert [(e.key, e.size, e.etag) for e in events] == [(key, len(body), result.etag)]
    assert events[0].event_name == "s3:ObjectCreated:Put"


def test_mc_cp_emits_an_event_with_the_decoded_key(isolated_settings: Settings, tap: EventTap, tmp_path) -> None:  # noqa: ANN001
    source = tmp_path / "stations ü+1.json"
    source.write_text('[{"station_id": "ST-1"}]', encoding="utf-8")
    key = "raw/chargenet/stations/stations ü+1.json"
    mc = mc_binary(isolated_settings.cache_dir)

    subprocess.run([str(mc), "cp", "--quiet", str(source), f"local/{isolated_settings.bucket}/{key}"],
                   env=mc_environment(isolated_settings), check=True, capture_output=True)

    events = tap.collect(expected=1)
    assert [(e.key, e.size) for e in events] == [(key, source.stat().st_size)]
    stat = subprocess.run([str(mc), "stat", "--json", f"local/{isolated_settings.bucket}/{key}"],
                          env=mc_environment(isolated_settings), check=True, capture_output=True, text=True)
    assert events[0].etag in stat.stdout


def test_an_object_outside_raw_emits_no_event(s3: Minio, isolated_settings: Settings, tap: EventTap) -> None:
    s3.put_object(isolated_settings.bucket, "elsewhere/notes.csv", io.BytesIO(b"a\n"), 2)
    s3.put_object(isolated_settings.bucket, "raw/marker.csv", io.BytesIO(b"b\n"), 2)

    events = tap.collect(expected=1, linger=2.0)

    assert [e.key for e in events] == ["raw/marker.csv"]


def _list_keys(s3: Minio, bucket: str, prefix: str) -> list[str]:
    return [o.object_name for o in s3.list_objects(bucket, prefix=prefix, recursive=True)]


def test_iceberg_table_through_nessie_lives_in_minio_and_survives_a_restart(
    services: ServiceManager, s3: Minio, native_settings: Settings, unique_suffix: str
) -> None:
    settings = dataclasses.replace(native_settings, bronze_namespace=f"bronze_{unique_suffix}")
    catalog = open_catalog(settings)
    namespace = settings.bronze_namespace
    catalog.create_namespace_if_not_exists(namespace)
    rows = pa.table({"sale_id": ["S-1", "S-2", "S-3"], "amount_usd": [10.5, 20.0, 30.25]})
    table = catalog.create_table(f"{namespace}.probe", schema=rows.schema)
    table.append(rows)
    assert catalog.load_table(f"{namespace}.probe").scan().to_arrow().sort_by("sale_id").equals(rows)
    location = table.location()
    assert location.startswith(f"{settings.warehouse_uri}/")
    prefix = location.removeprefix(f"s3://{settings.bucket}/") + "/data/"
    assert any(k.endswith(".parquet") for k in _list_keys(s3, settings.bucket, prefix))

    services.down()
    assert all(not s.healthy for s in services.status())
    services.up()

    reloaded = open_catalog(settings).load_table(f"{namespace}.probe")
    assert reloaded.scan().to_arrow().sort_by("sale_id").equals(rows)


def test_events_published_while_the_broker_is_down_arrive_when_it_is_back(
    services: ServiceManager, s3: Minio, isolated_settings: Settings
) -> None:
    tap = EventTap(isolated_settings)
    offsets = tap.offsets
    tap.close()

    services.down(["kafka"])
    try:
        for i in range(3):
            s3.put_object(isolated_settings.bucket, f"raw/outage/file-{i}.csv", io.BytesIO(b"x\n"), 2)
    finally:
        services.up(["kafka"])

    tap = EventTap(isolated_settings, start_offsets=offsets)
    try:
        events = tap.collect(expected=3, timeout=60.0)
    finally:
        tap.close()
    assert sorted(e.key for e in events) == [f"raw/outage/file-{i}.csv" for i in range(3)]
