"""MinIO bucket notifications, turned into typed events at the boundary.

A notification message carries ``Records``; each record's ``s3.object.key`` is
URL-query-escaped (space -> ``+``, ``/`` -> ``%2F``), so it is decoded here and
nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus

from lakehouse.errors import PermanentError


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


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_notification(payload: bytes | str) -> Iterator[ObjectCreated | dict]:
    """Yield an ``ObjectCreated`` per object-created record and the raw dict of any other record.

    Raises:
        PermanentError: the payload is not a MinIO notification at all.
    """
    try:
        message = json.loads(payload)
        records = message.get("Records") or []
    except (ValueError, AttributeError) as exc:
        raise PermanentError(f"not a MinIO notification: {exc}", reason="bad_event") from exc
    for record in records:
        name = str(record.get("eventName", ""))
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        if not name.startswith("s3:ObjectCreated:") or "key" not in obj:
            yield record
            continue
        yield ObjectCreated(
            bucket=str((s3.get("bucket") or {}).get("name", "")),
            key=unquote_plus(str(obj["key"])),
            etag=str(obj.get("eTag", "")).strip('"'),
            size=int(obj.get("size", 0)),
            version_id=obj.get("versionId") or None,
            event_time=_parse_time(record.get("eventTime")),
            event_name=name,
            sequencer=obj.get("sequencer"),
        )
