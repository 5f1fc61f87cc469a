import json

import pytest

from lakehouse.errors import PermanentError
from listener.events import ObjectCreated, parse_notification


def _notification(*records: dict) -> bytes:
    return json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": "lakehouse/x", "Records": list(records)}).encode()


def _record(key: str, name: str = "s3:ObjectCreated:Put") -> dict:
    return {
        "eventName": name,
        "eventTime": "2026-11-25T07:58:49.525Z",
        "s3": {"bucket": {"name": "lakehouse"},
               "object": {"key": key, "size": 8, "eTag": "e5eb", "versionId": "v1", "sequencer": "18EB"}},
    }


def test_keys_are_url_decoded_like_minio_encodes_them() -> None:
    [event] = parse_notification(_notification(_record("raw%2Ftest%2Fhello+w%C3%B6rld%2B1.csv")))
    assert isinstance(event, ObjectCreated)
    assert event.key == "raw/test/hello wörld+1.csv"
    assert (event.bucket, event.size, event.etag, event.version_id) == ("lakehouse", 8, "e5eb", "v1")
    assert event.event_time is not None and event.event_time.tzinfo is not None


def test_several_records_and_other_event_types_are_kept_apart() -> None:
    events = list(parse_notification(_notification(_record("raw%2Fa.csv"), _record("raw%2Fb.csv", "s3:ObjectRemoved:Delete"))))
    assert isinstance(events[0], ObjectCreated) and events[0].key == "raw/a.csv"
    assert isinstance(events[1], dict)


def test_a_payload_that_is_not_a_notification_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError):
        list(parse_notification(b"not json"))
