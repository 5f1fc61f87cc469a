"""Tombstones and garbage on the events topic are dead letters, never a crash (issue 9, item 2)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from minio import Minio

from lakehouse.settings import Settings
from tests.integration.listener.conftest import (
    Bronze,
    dead_letters,
    end_offsets,
    put,
    read_topic,
    running_listener,
    sales_csv,
    wait_for,
    wait_for_partitions,
)

pytestmark = pytest.mark.integration

# Null (a tombstone), empty, binary, not a notification, nested past the recursion limit, malformed record.
BAD_PAYLOADS: tuple[bytes | None, ...] = (
    None,
    b"",
    b"\x00\xff\xfe garbage \x80",
    b'{"hello": "world", "Records": "not a list"}',
    b"[" * 100_000,
    b'{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"object": {"key": "raw%2Fx.csv", "size": "huge"}}}]}',
)


@pytest.fixture
def private_topic(listener_settings: Settings) -> Iterator[Settings]:
    """``listener_settings`` on an events topic of this test's own: garbage here reaches no other listener."""
    topic = f"{listener_settings.events_topic}-{listener_settings.consumer_group}"
    admin = KafkaAdminClient(bootstrap_servers=listener_settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        yield dataclasses.replace(listener_settings, events_topic=topic)
    finally:
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


def real_notification(settings: Settings, s3: Minio, key: str, data: bytes) -> bytes:
    """Upload ``key`` and return the notification MinIO published for it on the shared events topic."""
    since = end_offsets(settings, "minio-events")
    put(s3, settings, key, data)

    def ours() -> list:
        records = read_topic(settings, "minio-events", since, timeout=1.0)
        return [r.value for r in records if settings.bucket.encode() in r.value and key.rsplit("/", 1)[1].encode() in r.value]

    return wait_for("MinIO's notification of the upload", ours, timeout=30)[0]


def committed(settings: Settings) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(settings.events_topic, 0))
    finally:
        consumer.close()


def test_null_and_garbage_messages_are_dead_lettered_as_bad_events_committed_and_the_next_file_loads(
    private_topic: Settings, s3: Minio
) -> None:
    settings = private_topic
    key = "raw/ecoride/sales/after-garbage.csv"
    event = real_notification(settings, s3, key, sales_csv(1, 4))
    dlq_from = end_offsets(settings, settings.dlq_topic)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=2_000_000)
    bronze = Bronze(settings)
    with running_listener(settings) as listener:
        wait_for_partitions(listener)
        for payload in BAD_PAYLOADS:
            producer.send(settings.events_topic, key=b"junk", value=payload).get(10)
        producer.send(settings.events_topic, value=event).get(10)
        producer.close()
        wait_for("the file sent after the garbage", lambda: bronze.rows_per_key("ecoride_sales").get(key) == 4)
        wait_for("every offset committed", lambda: committed(settings) == len(BAD_PAYLOADS) + 1)
        assert listener.state == "running" and listener.health()[0]
        assert listener.metrics.value("lakehouse_listener_failures_total", reason="bad_event") == len(BAD_PAYLOADS)
    letters = [dl for dl in dead_letters(settings, dlq_from) if dl["reason"] == "bad_event"]
    assert len(letters) == len(BAD_PAYLOADS)
    assert [dl["event"]["tombstone"] for dl in letters] == [payload is None for payload in BAD_PAYLOADS]
    assert all(dl["key"] == "" and dl["error"] for dl in letters)
    assert len(json.dumps(letters[4])) < 100_000  # a huge payload is cut to fit the topic
