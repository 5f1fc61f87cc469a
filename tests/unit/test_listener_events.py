"""MinIO notifications become typed events at the boundary."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lakehouse.errors import PermanentError
from lakehouse.settings import Settings
from listener.events import ObjectCreated, event_record, ignore_reason, local_event, parse_notification

# Shape captured from the native MinIO (one record per message, key URL-query-escaped).
MINIO_MESSAGE = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "lakehouse/raw/test/hello wörld+1.csv",
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "eventTime": "2026-11-25T07:58:49.525Z",
            "eventName": "s3:ObjectCreated:Put",
            "s3": {
                "bucket": {"name": "lakehouse"},
                "object": {
                    "key": "raw%2Ftest%2Fhello+w%C3%B6rld%2B1.csv",
                    "size": 8,
                    "eTag": "e5ebd4c02cefbe7955977c67ada242b7",
                    "sequencer": "18EB3ACD382D9A35",
                },
            },
        }
    ],
}


def record(key: str, name: str = "s3:ObjectCreated:Put", bucket: str = "lakehouse") -> dict:
    return {"eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 3, "eTag": '"abc"'}}}


def test_a_minio_notification_becomes_an_object_created_with_the_decoded_key() -> None:
    [event] = parse_notification(json.dumps(MINIO_MESSAGE).encode())
    assert isinstance(event, ObjectCreated)
    assert event.key == "raw/test/hello wörld+1.csv"
    assert (event.bucket, event.size, event.etag, event.sequencer) == ("lakehouse", 8, "e5ebd4c02cefbe7955977c67ada242b7", "18EB3ACD382D9A35")
    assert event.event_time is not None and event.event_time.year == 2026 and event.event_time.tzinfo is not None
    assert event.raw == MINIO_MESSAGE["Records"][0]


def test_every_record_of_a_message_is_an_event_and_other_kinds_come_back_as_dicts() -> None:
    message = {"Records": [record("raw%2Fa.csv"), record("raw%2Fb.csv", name="s3:ObjectRemoved:Delete"), record("raw%2Fc.csv")]}
    parsed = list(parse_notification(json.dumps(message)))
    assert [p.key if isinstance(p, ObjectCreated) else "other" for p in parsed] == ["raw/a.csv", "other", "raw/c.csv"]
    assert parsed[0].etag == "abc"


@pytest.mark.parametrize("payload", [
    None,  # a Kafka tombstone (regression: json.loads(None) raised TypeError and killed the listener)
    b"",
    b"\xff\xfe\x00garbage",
    b"not json",
    b'"a string"',
    b"[" * 100_000,  # nested past the recursion limit
    b'{"Records": "nope"}',
    b'{"Records": [42]}',
    b'{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"object": {"key": "k", "size": "big"}}}]}',
    b'{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"object": {"key": "k", "size": 1e400}}}]}',
])
def test_a_payload_that_is_not_a_notification_is_a_permanent_bad_event(payload: bytes) -> None:
    with pytest.raises(PermanentError) as info:
        list(parse_notification(payload))
    assert info.value.reason == "bad_event"


def test_a_message_without_records_yields_nothing() -> None:
    assert list(parse_notification(b"{}")) == []


@pytest.mark.parametrize(
    ("bucket", "key", "reason"),
    [
        ("lakehouse", "raw/ecoride/sales/s.csv", None),
        ("someone-else", "raw/ecoride/sales/s.csv", "other_bucket"),
        ("lakehouse", "quarantine/raw/x.csv", "outside_raw"),
        ("lakehouse", "raw/ecoride/sales/", "directory"),
    ],
)
def test_ignore_reason_keeps_only_files_under_raw_in_our_bucket(bucket: str, key: str, reason: str | None) -> None:
    event = replace(local_event(bucket, key, 1))
    assert ignore_reason(event, Settings(bucket="lakehouse")) == reason


def test_event_record_is_the_original_record_or_a_summary_for_local_files() -> None:
    [event] = parse_notification(json.dumps(MINIO_MESSAGE))
    assert event_record(event)["s3"]["object"]["key"] == "raw%2Ftest%2Fhello+w%C3%B6rld%2B1.csv"
    local = event_record(local_event("lakehouse", "raw/a b.csv", 5))
    assert local["s3"]["object"] == {"key": "raw/a b.csv", "size": 5, "eTag": ""}
    assert local["eventName"] == "local:FileReady"
