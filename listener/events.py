"""MinIO bucket notifications, turned into typed events at the boundary.

A notification message carries ``Records``; each record's ``s3.object.key`` is
URL-query-escaped (space -> ``+``, ``/`` -> ``%2F``), so it is decoded here and
nowhere else. :func:`ignore_reason` is the one place that decides which
object-created events the listener leaves alone (and counts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_plus

from lakehouse.errors import PermanentError
from lakehouse.reasons import BAD_EVENT
from lakehouse.settings import Settings


@dataclass(frozen=True)
class ObjectCreated:
    """One ``s3:ObjectCreated:*`` record (put, copy or multipart completion)."""

    bucket: str
    key: str  # decoded
    etag: str
    size: int
    version_id: str | None
    event_time: datetime | None
    event_name: str
    sequencer: str | None = None
    # The notification record as received, for the dead-letter topic.
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_notification(payload: bytes | str | None) -> Iterator[ObjectCreated | dict]:
    """Yield an ``ObjectCreated`` per object-created record and the raw dict of any other record.

    Any payload is accepted: a Kafka tombstone (``None``), an empty message,
    bytes that are not UTF-8 or JSON, JSON nested beyond the parser's recursion
    limit or of any other shape all end as ``bad_event``, never as another
    exception (one bad message must not stop the consumer, guarantee 6).

    Hazard: this is a generator and may raise after yielding; callers that must
    treat a message as a whole (the Kafka source) take ``list()`` of it first.

    Raises:
        PermanentError: (reason ``bad_event``) the payload is not a MinIO
            notification, or one of its records is malformed.
    """
    if payload is None:
        raise PermanentError("not a MinIO notification: a null payload (Kafka tombstone)", reason=BAD_EVENT)
    try:
        message = json.loads(payload)
        records = message.get("Records") or []
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise PermanentError(f"not a MinIO notification: {type(exc).__name__}: {exc}", reason=BAD_EVENT) from exc
    if not isinstance(records, list):
        raise PermanentError("not a MinIO notification: Records is not a list", reason=BAD_EVENT)
    for record in records:
        try:
            yield _parse_record(record)
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise PermanentError(f"malformed notification record: {type(exc).__name__}: {exc}", reason=BAD_EVENT) from exc


def _parse_record(record: dict) -> ObjectCreated | dict:
    name = str(record.get("eventName", ""))
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    if not name.startswith("s3:ObjectCreated:") or "key" not in obj:
        return record
    return ObjectCreated(
        bucket=str((s3.get("bucket") or {}).get("name", "")),
        key=unquote_plus(str(obj["key"])),
        etag=str(obj.get("eTag", "")).strip('"'),
        size=int(obj.get("size", 0)),
        version_id=obj.get("versionId") or None,
        event_time=_parse_time(record.get("eventTime")),
        event_name=name,
        sequencer=obj.get("sequencer"),
        raw=record,
    )


def local_event(bucket: str, key: str, size: int) -> ObjectCreated:
    """The event the local (watchdog) source emits for a completely written file.

    The etag is left empty: the file's SHA-256 is computed when it is loaded,
    from the content actually read.
    """
    return ObjectCreated(
        bucket=bucket,
        key=key,
        etag="",
        size=size,
        version_id=None,
        event_time=datetime.now(timezone.utc),
        event_name="local:FileReady",
    )


def ignore_reason(event: ObjectCreated, settings: Settings) -> str | None:
    """Why the listener must leave this event alone, or ``None`` to load it.

    Other buckets share the topic (tests, other deployments), quarantine and the
    warehouse live outside ``raw/``, and "folders" are zero-byte keys ending in
    ``/``: none of them is a landed file.
    """
    if event.bucket != settings.bucket:
        return "other_bucket"
    if not event.key.startswith(settings.raw_prefix):
        return "outside_raw"
    if event.key.endswith("/"):
        return "directory"
    return None


def event_record(event: ObjectCreated) -> dict[str, Any]:
    """The original notification record, or a faithful summary for local/replay events."""
    if event.raw is not None:
        return dict(event.raw)
    return {
        "eventName": event.event_name,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "s3": {"bucket": {"name": event.bucket}, "object": {"key": event.key, "size": event.size, "eTag": event.etag}},
    }
