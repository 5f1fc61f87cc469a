"""Turns a batch of events into bronze loads, dead letters, one log line per file and metrics.

Source-agnostic: the Kafka and local sources and the reconcile pass all end
here. The loader groups a batch by table and makes one Iceberg commit per
table (rows and ledger together), quarantines bad files itself, and raises
``RetryableError`` when storage or the catalog is down; calling it again with
the same batch is safe because the ledger turns what already loaded into
duplicates.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ingestion.source import SourceObject
from ingestion.storage import ObjectStore
from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from listener.dlq import DeadLetter, DeadLetterSink
from listener.events import ObjectCreated, event_record
from listener.metrics import ListenerMetrics
from listener.sources import Delivery

log = logging.getLogger(__name__)

STAT_WORKERS = 8
# A dead letter keeps at most this much of an unreadable payload: the letter must
# fit the broker's message size limit (1 MB by default) or the batch would retry forever.
PAYLOAD_KEPT = 64 * 1024


class Outcome(Protocol):
    """The shape of ``ingestion.loader.FileOutcome``."""

    key: str
    etag: str
    table: str | None
    outcome: str  # loaded | duplicate | quarantined
    rows: int
    millis: float
    error: PermanentError | None


class Loader(Protocol):
    """The shape of ``ingestion.loader.BronzeLoader``."""

    def load(self, objects: Sequence[SourceObject]) -> Sequence[Outcome]: ...

    def pending(self, objects: Iterable[SourceObject]) -> list[SourceObject]: ...


@dataclass(frozen=True)
class FileReport:
    """One file's result as the listener reports it (a loader outcome, or ``missing``/``failed``)."""

    key: str
    etag: str
    table: str | None
    outcome: str
    rows: int = 0
    millis: float = 0.0
    reason: str | None = None


@dataclass
class BatchReport:
    files: list[FileReport] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def merge(self, other: BatchReport) -> None:
        self.files.extend(other.files)
        self.dead_letters.extend(other.dead_letters)
        self.seconds += other.seconds


class Dispatcher:
    """Loads batches; one instance per listener (not thread-safe)."""

    def __init__(
        self,
        loader: Loader,
        store: ObjectStore,
        dead_letters: DeadLetterSink,
        metrics: ListenerMetrics,
        *,
        bucket: str,
        origin: str,
        listener_id: str = "",
        quarantine: Callable[[SourceObject, PermanentError], object] | None = None,
    ) -> None:
        self.loader = loader
        self.store = store
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.bucket = bucket
        self.origin = origin
        self.listener_id = listener_id
        self.quarantine = quarantine

    # ---- entry points ---------------------------------------------------------
    def load_events(
        self, events: Sequence[ObjectCreated], unreadable: Sequence[Delivery] = (), *, one_by_one: bool = False
    ) -> BatchReport:
        """Load the objects the events name, as they are in the store now.

        Each object is stat'ed first: if it was overwritten since the event, the
        current version is loaded (and its own event later is a duplicate); if
        it was deleted, there is nothing to load and a dead letter says so.
        ``one_by_one`` isolates a batch that failed in a way nobody classified.

        Raises:
            RetryableError: storage, catalog or broker down; retry the same call.
        """
        started = time.monotonic()
        letters = [self._unreadable_letter(d) for d in unreadable]
        objects, by_key, missing = self._resolve(events)
        letters += [self._letter(exc, event) for event, exc in missing]
        extra = [FileReport(e.key, e.etag, None, "missing", reason=reasons.OBJECT_MISSING) for e, _ in missing]
        if one_by_one:
            report = self._finish([], letters, extra, by_key, started)
            report.merge(self.load_one_by_one(objects, by_key))
            return report
        outcomes = self.loader.load(objects) if objects else []
        return self._finish(outcomes, letters, extra, by_key, started)

    def load_objects(self, objects: Sequence[SourceObject], events: Mapping[str, ObjectCreated] | None = None) -> BatchReport:
        """Load objects that are known to exist (reconcile, or resolved events)."""
        started = time.monotonic()
        outcomes = self.loader.load(list(objects)) if objects else []
        return self._finish(outcomes, [], [], events or {}, started)

    def load_one_by_one(self, objects: Sequence[SourceObject], events: Mapping[str, ObjectCreated] | None = None) -> BatchReport:
        """Isolate a batch that keeps failing unexpectedly: each file alone. A file
        that still fails is quarantined (when the dispatcher has a ``quarantine``)
        and dead-lettered with reason ``unexpected`` (or its ``PermanentError``'s
        reason); the others load.

        Raises:
            RetryableError: an outage, from the loader or from quarantining.
        """
        report = BatchReport()
        for obj in objects:
            try:
                report.merge(self.load_objects([obj], events))
            except RetryableError:
                raise
            except Exception as exc:  # noqa: BLE001 - the point is to contain a failure the loader did not classify
                report.merge(self._isolate(obj, exc, (events or {}).get(obj.key)))
        return report

    def _isolate(self, obj: SourceObject, exc: Exception, event: ObjectCreated | None) -> BatchReport:
        log.exception("file key=%s failed on its own; quarantining it", json.dumps(obj.key, ensure_ascii=False))
        error = exc if isinstance(exc, PermanentError) else PermanentError(
            f"{obj.key}: unexpected {type(exc).__name__}: {exc}", reason=reasons.UNEXPECTED)
        if error is not exc:
            error.__cause__ = exc
        outcome = "failed"
        if self.quarantine is not None:
            self.quarantine(obj, error)
            outcome = "quarantined"
        letter = self._letter(exc, event, key=obj.key, etag=obj.etag, reason=error.reason)
        self.dead_letters.publish([letter])
        file = FileReport(obj.key, obj.etag, None, outcome, reason=error.reason)
        self._record(file, None)
        return BatchReport(files=[file], dead_letters=[letter])

    # ---- steps ----------------------------------------------------------------
    def _resolve(
        self, events: Sequence[ObjectCreated]
    ) -> tuple[list[SourceObject], dict[str, ObjectCreated], list[tuple[ObjectCreated, PermanentError]]]:
        latest: dict[str, ObjectCreated] = {}
        for event in events:
            latest[event.key] = event  # a key twice in one batch: one stat, one load
        keys = list(latest)
        if len(keys) > 1:
            with ThreadPoolExecutor(max_workers=min(STAT_WORKERS, len(keys)), thread_name_prefix="stat") as pool:
                results = list(pool.map(self._stat, keys))
        else:
            results = [self._stat(k) for k in keys]
        objects, missing = [], []
        for key, result in zip(keys, results):
            if isinstance(result, PermanentError):
                missing.append((latest[key], result))
            else:
                objects.append(result)
        return objects, latest, missing

    def _stat(self, key: str) -> SourceObject | PermanentError:
        try:
            return self.store.stat(key)
        except PermanentError as exc:
            return exc

    def _finish(
        self,
        outcomes: Sequence[Outcome],
        letters: list[DeadLetter],
        extra: list[FileReport],
        events: Mapping[str, ObjectCreated],
        started: float,
    ) -> BatchReport:
        for outcome in outcomes:
            if outcome.outcome == "quarantined":
                exc = outcome.error or PermanentError("quarantined without a reason", reason=reasons.UNEXPECTED)
                letters.append(self._letter(exc, events.get(outcome.key), key=outcome.key, etag=outcome.etag, table=outcome.table))
        # Dead letters before acknowledging anything: if the broker refuses them
        # the whole batch is retried (loads are then duplicates, i.e. no-ops).
        self.dead_letters.publish(letters)
        report = BatchReport(dead_letters=letters, seconds=time.monotonic() - started)
        for outcome in outcomes:
            reason = outcome.error.reason if outcome.error is not None else None
            file = FileReport(outcome.key, outcome.etag, outcome.table, outcome.outcome, outcome.rows, outcome.millis, reason)
            self._record(file, events.get(outcome.key))
            report.files.append(file)
        for file in extra:
            self._record(file, events.get(file.key))
            report.files.append(file)
        if report.files:
            self.metrics.batches.inc()
            self.metrics.batch_seconds.observe(report.seconds)
            self.metrics.batch_files.observe(len(report.files))
        return report

    def _record(self, file: FileReport, event: ObjectCreated | None) -> None:
        """The one structured log line per file, and its metrics."""
        table = file.table or "-"
        fields = {"key": file.key, "table": file.table, "rows": file.rows, "ms": round(file.millis, 1), "outcome": file.outcome}
        if file.reason:
            fields["reason"] = file.reason
        level = logging.INFO if file.outcome in ("loaded", "duplicate") else logging.WARNING
        log.log(
            level,
            "file key=%s table=%s rows=%d ms=%.0f outcome=%s%s",
            json.dumps(file.key, ensure_ascii=False), table, file.rows, file.millis, file.outcome,
            f" reason={file.reason}" if file.reason else "",
            extra={"file": fields},
        )
        self.metrics.files.labels(table=table, outcome=file.outcome).inc()
        if file.outcome == "loaded":
            self.metrics.rows.labels(table=table).inc(file.rows)
            if event is not None and event.event_time is not None:
                self.metrics.file_latency.observe(max(0.0, (datetime.now(timezone.utc) - event.event_time).total_seconds()))
        if file.reason:
            self.metrics.fail(file.reason)

    def _letter(self, exc: BaseException, event: ObjectCreated | None, **fields: Any) -> DeadLetter:
        fields.setdefault("key", event.key if event else "")
        fields.setdefault("etag", event.etag if event else "")
        return DeadLetter.from_exception(
            exc, bucket=self.bucket, event=event_record(event) if event else None, origin=self.origin, listener=self.listener_id, **fields
        )

    def _unreadable_letter(self, delivery: Delivery) -> DeadLetter:
        self.metrics.fail(reasons.BAD_EVENT)
        event: dict[str, Any] = {"payload": None, "tombstone": delivery.payload is None}
        if delivery.payload is not None:
            event["payload"] = delivery.payload[:PAYLOAD_KEPT].decode("utf-8", errors="replace")
            event["payload_bytes"] = len(delivery.payload)
        exc = PermanentError(delivery.error or "unreadable event", reason=reasons.BAD_EVENT)
        return DeadLetter.from_exception(
            exc, key="", bucket=self.bucket, event=event, origin=self.origin, listener=self.listener_id
        )
