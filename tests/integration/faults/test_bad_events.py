"""(b) Null and garbage payloads on minio-events: dead-lettered as bad_event, the listener keeps running."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from lakehouse.services.minio import minio_client
from lakehouse.settings import Settings
from tests.integration.faults.conftest import FIGURES, expected_records, put_retrying, sales_accounting
from tests.integration.listener.conftest import ListenerProcess, dead_letters, end_offsets, sales_csv, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PAYLOADS: tuple[bytes | None, ...] = (
    None,  # a tombstone
    b"",
    b"\x00\xff\xfe\x80 binary",
    b"not json at all",
    b'{"Records": 42}',
    b'{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"object": {"key": "raw%2Fa.csv", "size": "x"}}}]}',
    b"[" * 200_000,
    b'"just a string"',
)


def committed_total(settings: Settings) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(settings.events_topic) or set()
        return sum(consumer.committed(TopicPartition(settings.events_topic, p)) or 0 for p in partitions)
    finally:
        consumer.close()


def test_null_and_garbage_payloads_on_the_events_topic_are_bad_event_dead_letters_and_the_listener_runs_on(
    fault_settings: Settings, tmp_path: Path
) -> None:
    settings = fault_settings
    started = time.monotonic()
    dlq_from = end_offsets(settings, settings.dlq_topic)
    ends_before = sum(end_offsets(settings, settings.events_topic).values())
    proc = ListenerProcess(settings, tmp_path / "listener.log", "--retry-max", "2")
    try:
        proc.wait_consuming()
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=2_000_000)
        for i, payload in enumerate(PAYLOADS):
            producer.send(settings.events_topic, key=f"junk-{i}".encode(), value=payload, partition=i % 3).get(10)
        producer.close()
        files = {"raw/ecoride/sales/after-junk/good.csv": sales_csv(1, 5)}
        put_retrying(minio_client(settings), settings, *next(iter(files.items())))
        wait_for("the good file after the junk", lambda: (a := sales_accounting(settings, files)) is not None and not a.lost,
                 timeout=60, describe=proc.log)
        wanted = ends_before + len(PAYLOADS) + 1
        wait_for("every offset committed", lambda: committed_total(settings) >= wanted, timeout=30)
        letters = [dl for dl in dead_letters(settings, dlq_from) if dl["reason"] == "bad_event"]
        alive = proc.proc.poll() is None and proc.health().get("status") == "ok"
        FIGURES.append({"scenario": "null and garbage Kafka payloads", "messages": len(PAYLOADS), "bad_event_letters": len(letters),
                        "good_file_rows": sales_accounting(settings, files).loaded, "listener_alive": alive,
                        "seconds": round(time.monotonic() - started, 1)})
        assert alive, proc.log()
        assert len(letters) == len(PAYLOADS)
        assert sorted(dl["event"]["tombstone"] for dl in letters) == sorted(p is None for p in PAYLOADS)
        assert proc.metric("lakehouse_listener_failures_total", reason="bad_event") == len(PAYLOADS)
        assert sales_accounting(settings, files).loaded == expected_records(files)
    finally:
        proc.close()
