"""Quarantine: keep a bad file and say why, next to each other.

``quarantine/<key>`` is a server-side copy of the object (the original stays
where it landed, so ``replay`` and humans can still find it) and
``quarantine/<key>.error.json`` explains it::

    {"key", "etag", "reason", "message", "spec", "exception", "quarantined_at"}

Quarantining the same object again overwrites both: it is idempotent, which a
replayed event needs.

Hazard: if the object was replaced after the failed load, the copy is of the
newer version; ``etag`` in the report names the version that failed.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timezone

from lakehouse.errors import PermanentError
from lakehouse.settings import Settings
from ingestion.source import SourceObject
from ingestion.storage import ObjectStore

log = logging.getLogger(__name__)


def quarantine_key(settings: Settings, key: str) -> str:
    """Where the copy of ``key`` goes: the quarantine prefix plus the full key."""
    return settings.quarantine_prefix + key


def _exception_text(error: BaseException) -> str:
    remote = getattr(error, "exception_text", None)  # failed in a Spark task: only its text came back
    if remote:
        return str(remote)
    cause = error.__cause__ or error
    return "".join(traceback.format_exception_only(type(cause), cause)).strip()


def quarantine(store: ObjectStore, obj: SourceObject, error: PermanentError, spec_name: str | None,
               settings: Settings) -> str:
    """Copy ``obj`` under ``quarantine/`` and write its ``.error.json``; return the copy's key.

    A vanished object (reason ``object_missing``) gets the report without a copy.

    Raises:
        RetryableError: the store is unreachable (the caller retries; nothing is lost).
    """
    target = quarantine_key(settings, obj.key)
    copied = False
    if error.reason != "object_missing":
        try:
            store.stat(obj.key)
        except PermanentError:
            log.warning("quarantine: %s vanished before it could be copied", obj.key)
        else:
            store.copy(obj.key, target)
            copied = True
    report = {
        "key": obj.key,
        "etag": obj.etag,
        "reason": error.reason,
        "message": str(error),
        "spec": spec_name,
        "exception": _exception_text(error),
        "quarantined_at": datetime.now(timezone.utc).isoformat(),
        "copied": copied,
    }
    body = json.dumps(report, indent=2, ensure_ascii=False).encode()
    store.put_bytes(f"{target}.error.json", body, content_type="application/json")
    log.warning("quarantined key=%s reason=%s spec=%s -> %s", obj.key, error.reason, spec_name, target)
    return target
