"""In-memory stand-ins for the loader, the store, the dead-letter sink and an event source.

They follow the contracts the listener codes against (``ingestion.loader``'s
``BronzeLoader``/``FileOutcome``, ``ingestion.storage.ObjectStore``), so the
listener's unit tests run without MinIO, Kafka or Iceberg.
"""

from __future__ import annotations

import hashlib
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ingestion.source import SourceObject
from lakehouse import reasons
from lakehouse.errors import PermanentError
from listener.dlq import DeadLetter
from listener.events import ObjectCreated
from listener.sources import Delivery


@dataclass(frozen=True)
class FakeOutcome:
    key: str
    etag: str
    table: str | None
    outcome: str
    rows: int
    millis: float
    error: PermanentError | None


class MemoryStore:
    """An ``ObjectStore`` over a dict; the etag is the MD5 of the content, like S3's for small puts."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects: dict[str, bytes] = dict(objects or {})
        self.stats: list[str] = []
        self.up = True  # what reachable() answers: a test takes the store "down" with up = False

    def reachable(self) -> bool:
        return self.up

    def _source(self, key: str) -> SourceObject:
        data = self.objects[key]
        return SourceObject(key=key, etag=hashlib.md5(data).hexdigest(), size=len(data), open=lambda: io.BytesIO(data))  # noqa: S324

    def list(self, prefix: str) -> Iterator[SourceObject]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield self._source(key)

    def stat(self, key: str) -> SourceObject:
        self.stats.append(key)
        if key not in self.objects:
            raise PermanentError(f"{key} no longer exists", reason=reasons.OBJECT_MISSING)
        return self._source(key)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = data

    def copy(self, source_key: str, target_key: str) -> None:
        self.objects[target_key] = self.objects[source_key]


def default_route(key: str) -> str | None:
    """``raw/<source>/<dataset>/...`` -> ``<source>_<dataset>``; anything shallower is unroutable."""
    parts = key.split("/")
    return f"{parts[1]}_{parts[2]}" if len(parts) > 3 and parts[0] == "raw" else None


class FakeLoader:
    """Ledger-idempotent, one "commit" per table per ``load`` call, quarantines bad files.

    A file is bad if its content starts with ``BAD``; its rows are its lines.
    Queue exceptions in :attr:`failures` to make the next ``load`` calls raise.
    """

    def __init__(self, route: Callable[[str], str | None] = default_route) -> None:
        self.route = route
        self.ledger: set[tuple[str, str]] = set()
        self.rows: dict[str, list[str]] = {}  # table -> source keys, one per row
        self.commits: list[tuple[str, list[str]]] = []
        self.calls: list[list[str]] = []
        self.quarantined: list[str] = []
        self.failures: deque[BaseException] = deque()
        self.on_load: Callable[[Sequence[SourceObject]], None] | None = None

    def load(self, objects: Sequence[SourceObject]) -> list[FakeOutcome]:
        self.calls.append([o.key for o in objects])
        if self.on_load is not None:
            self.on_load(objects)
        if self.failures:
            raise self.failures.popleft()
        outcomes, groups = [], {}
        for obj in objects:
            outcome = self._one(obj)
            outcomes.append(outcome)
            if outcome.outcome == "loaded":
                groups.setdefault(outcome.table, []).append(obj.key)
        for table, keys in groups.items():
            self.commits.append((table, keys))
        return outcomes

    def _one(self, obj: SourceObject) -> FakeOutcome:
        table = self.route(obj.key)
        if (obj.key, obj.etag) in self.ledger:
            return FakeOutcome(obj.key, obj.etag, table, "duplicate", 0, 0.1, None)
        with obj.open() as handle:
            data = handle.read()
        if table is None or data.startswith(b"BAD"):
            reason = reasons.UNROUTABLE_KEY if table is None else reasons.PARSE_ERROR
            self.quarantined.append(obj.key)
            return FakeOutcome(obj.key, obj.etag, table, "quarantined", 0, 0.1, PermanentError(f"{obj.key}: {reason}", reason=reason))
        self.ledger.add((obj.key, obj.etag))
        rows = len(data.splitlines())
        self.rows.setdefault(table, []).extend([obj.key] * rows)
        return FakeOutcome(obj.key, obj.etag, table, "loaded", rows, 1.0, None)

    def pending(self, objects: Iterable[SourceObject]) -> list[SourceObject]:
        return [o for o in objects if (o.key, o.etag) not in self.ledger]


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []
        self.failures: deque[BaseException] = deque()

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        if letters and self.failures:
            raise self.failures.popleft()
        self.letters.extend(letters)

    def close(self) -> None:
        pass


def notification(bucket: str, key: str, etag: str = "e", size: int = 1) -> ObjectCreated:
    """The event MinIO would send for a put of ``key`` (already decoded)."""
    return ObjectCreated(bucket=bucket, key=key, etag=etag, size=size, version_id=None, event_time=None, event_name="s3:ObjectCreated:Put")


@dataclass
class ScriptedSource:
    """An ``EventSource`` that hands out scripted polls and records commits."""

    polls: deque[list[Delivery]] = field(default_factory=deque)
    commits: list[list[Any]] = field(default_factory=list)
    invalid: set[Any] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    closed: bool = False
    on_empty: Callable[[], None] | None = None
    name: str = "scripted"

    def start(self) -> None:
        pass

    def poll(self, timeout_s: float) -> list[Delivery]:
        if self.polls:
            return self.polls.popleft()
        if self.on_empty is not None:
            self.on_empty()
        return []

    def valid(self, token: Any) -> bool:
        return token not in self.invalid

    def commit(self, tokens: Sequence[Any]) -> None:
        self.commits.append(list(tokens))

    def hold(self, key: str) -> bool:
        return key in self.held

    def lag(self) -> dict[str, int]:
        return {"p0": sum(len(p) for p in self.polls)}

    def status(self) -> dict[str, Any]:
        return {"source": self.name}

    def close(self) -> None:
        self.closed = True

    @property
    def committed(self) -> list[Any]:
        return [t for c in self.commits for t in c]


def deliveries(*events: ObjectCreated, start: int = 0) -> list[Delivery]:
    """One delivery per event, tokens ``start, start+1, ...``."""
    return [Delivery(events=(e,), token=start + i) for i, e in enumerate(events)]


def stream(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)
