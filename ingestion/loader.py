"""BronzeLoader: a batch of landed files in, one Iceberg commit per table out.

The listener (events) and ``lakehouse replay`` (listing) both call
:meth:`BronzeLoader.load`. Per table group it:

1. opens (or creates) the table and reads the ledger for the group's files;
2. marks files already loaded — or repeated within the batch — ``duplicate``;
3. parses and writes the rest; a file that fails with ``PermanentError`` is
   quarantined and the others carry on;
4. commits schema evolution, data files and ledger entries in ONE transaction.

A crash anywhere before step 4 commits nothing; a crash after it is undone by
step 2 on the retry. A conflicting concurrent commit (another listener, a
Spark backfill) makes the whole group start again from step 1, so the ledger
check always describes the snapshot the commit builds on.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    CommitStateUnknownException,
    NoSuchTableError,
    ServerError,
    ServiceUnavailableError,
    TooManyRequestsError,
)
from sqlalchemy.exc import OperationalError
from urllib3.exceptions import HTTPError

from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from ingestion import ledger
from ingestion.catalog import open_catalog
from ingestion.pipeline import FileReader
from ingestion.quarantine import quarantine
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec, route
from ingestion.storage import ObjectStore, open_store
from ingestion.writer import GroupWrite, open_table

log = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 4
# Errors that mean "a service is unreachable or overloaded", never "bad input".
# requests' ConnectionError is an OSError; so are pyarrow's S3 errors.
OUTAGES: tuple[type[BaseException], ...] = (
    OSError, HTTPError, ServerError, ServiceUnavailableError, TooManyRequestsError,
    CommitStateUnknownException, OperationalError,
)


@contextmanager
def outages_are_retryable(what: str) -> Iterator[None]:
    """Re-raise storage and catalog outages as RetryableError (the caller backs off)."""
    try:
        yield
    except OUTAGES as exc:
        raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file of a batch."""

    key: str
    etag: str
    table: str | None  # fully qualified, e.g. "bronze.ecoride_sales"; None if unroutable
    outcome: str  # "loaded" | "duplicate" | "quarantined"
    rows: int
    millis: float
    error: PermanentError | None = None


class _Restart(Exception):
    """A quarantined file had already changed the group's schema: start the group over."""


class BronzeLoader:
    """Loads batches of landed files into their bronze tables, exactly once per (key, etag)."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, store: ObjectStore | None = None) -> None:
        self.settings = settings
        self._catalog = catalog
        self.store = store if store is not None else open_store(settings)

    @property
    def catalog(self) -> Catalog:
        """Opened on first use, so a loader can be built while the catalog is down."""
        if self._catalog is None:
            with outages_are_retryable("opening the catalog"):
                self._catalog = open_catalog(self.settings)
        return self._catalog

    def qualified(self, spec: DatasetSpec) -> str:
        return f"{self.settings.bronze_namespace}.{spec.table}"

    def load(self, objects: Sequence[SourceObject]) -> list[FileOutcome]:
        """Load a batch; return one outcome per object, in input order.

        Raises:
            RetryableError: storage or catalog unreachable. Nothing of the
                failing table's group was committed; groups committed before
                it are in the ledger, so calling ``load`` again with the same
                batch is safe.
        """
        outcomes: dict[int, FileOutcome] = {}
        groups: dict[str, list[tuple[int, SourceObject]]] = defaultdict(list)
        specs: dict[str, DatasetSpec] = {}
        for index, obj in enumerate(objects):
            spec = route(obj.key)
            if spec is None:
                error = PermanentError(f"no dataset spec matches {obj.key!r}; see ingestion/specs.py",
                                       reason="unroutable_key")
                outcomes[index] = self._quarantine(obj, error, None, time.monotonic())
                continue
            specs[spec.name] = spec
            groups[spec.name].append((index, obj))
        for name, items in groups.items():
            outcomes.update(self._load_group(specs[name], items))
        return [outcomes[i] for i in range(len(objects))]

    def pending(self, objects: Iterable[SourceObject]) -> list[SourceObject]:
        """The objects whose (key, etag) the ledger lacks; unroutable keys are included."""
        objects = list(objects)
        by_spec: dict[str, list[SourceObject]] = defaultdict(list)
        specs: dict[str, DatasetSpec] = {}
        for obj in objects:
            spec = route(obj.key)
            if spec is not None:
                specs[spec.name] = spec
                by_spec[spec.name].append(obj)
        done: set[tuple[str, str]] = set()
        with outages_are_retryable("reading the ledger"):
            for name, group in by_spec.items():
                try:
                    table = self.catalog.load_table(specs[name].identifier(self.settings.bronze_namespace))
                except NoSuchTableError:
                    continue
                done |= ledger.loaded(table, ((o.key, o.etag) for o in group))
        return [o for o in objects if (o.key, o.etag) not in done]

    def _load_group(self, spec: DatasetSpec, items: list[tuple[int, SourceObject]]) -> dict[int, FileOutcome]:
        settled: dict[int, FileOutcome] = {}  # quarantined files: not retried on a restart
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                with outages_are_retryable(f"loading into {self.qualified(spec)}"):
                    return settled | self._attempt(spec, [i for i in items if i[0] not in settled], settled)
            except CommitFailedException as exc:
                log.info("commit to %s conflicted (attempt %d): %s; re-checking the ledger",
                         self.qualified(spec), attempt, exc)
            except _Restart:
                log.info("restarting %s without a quarantined file's schema change", self.qualified(spec))
        raise RetryableError(f"{self.qualified(spec)}: {COMMIT_ATTEMPTS} commits in a row conflicted with other writers")

    def _attempt(self, spec: DatasetSpec, items: list[tuple[int, SourceObject]],
                 settled: dict[int, FileOutcome]) -> dict[int, FileOutcome]:
        table = open_table(self.catalog, spec, self.settings.bronze_namespace)
        already = ledger.loaded(table, ((o.key, o.etag) for _, o in items))
        group = GroupWrite(table, spec)
        done: dict[int, FileOutcome] = {}
        try:
            staged = self._stage(spec, group, items, already, done, settled)
        except BaseException:
            group.discard()  # nothing was committed: the written data files are orphans
            raise
        commit_started = time.monotonic()
        if staged or group.schema_id != table.metadata.current_schema_id:
            try:
                group.commit(len(staged))
            except CommitFailedException:
                group.discard()  # certainly not committed; any other error may have landed
                raise
        commit_millis = _millis(commit_started)
        for index, (obj, rows, millis) in staged.items():
            # A file's time is its own parse and write plus the commit it waited for.
            done[index] = self._outcome(spec, obj, "loaded", rows, millis + commit_millis)
        return done

    def _stage(self, spec: DatasetSpec, group: GroupWrite, items: list[tuple[int, SourceObject]],
               already: set[tuple[str, str]], done: dict[int, FileOutcome],
               settled: dict[int, FileOutcome]) -> dict[int, tuple[SourceObject, int, float]]:
        """Write the new files of a group into its transaction; record duplicates and quarantines."""
        ingested_at = datetime.now(timezone.utc)
        staged: dict[int, tuple[SourceObject, int, float]] = {}
        seen: set[tuple[str, str]] = set()
        for index, obj in items:
            started = time.monotonic()
            if (obj.key, obj.etag) in already or (obj.key, obj.etag) in seen:
                done[index] = self._outcome(spec, obj, "duplicate", 0, _millis(started))
                continue
            seen.add((obj.key, obj.etag))
            schema_before = group.schema_id
            try:
                rows = group.add_file(FileReader(spec, obj, ingested_at))
            except PermanentError as error:
                settled[index] = self._quarantine(obj, error, spec, started)
                if group.schema_id != schema_before:
                    raise _Restart() from error
                continue
            staged[index] = (obj, rows, _millis(started))
        return staged

    def _outcome(self, spec: DatasetSpec | None, obj: SourceObject, outcome: str, rows: int, millis: float,
                 error: PermanentError | None = None) -> FileOutcome:
        table = self.qualified(spec) if spec is not None else None
        # DEBUG: the listener and the bulk CLIs log the one INFO line per file.
        log.debug("bronze key=%s table=%s rows=%d ms=%.1f outcome=%s%s", obj.key, table, rows, millis, outcome,
                 f" reason={error.reason}" if error else "",
                 extra={"key": obj.key, "table": table, "rows": rows, "ms": round(millis, 1), "outcome": outcome})
        return FileOutcome(obj.key, obj.etag, table, outcome, rows, millis, error)

    def _quarantine(self, obj: SourceObject, error: PermanentError, spec: DatasetSpec | None,
                    started: float) -> FileOutcome:
        quarantine(self.store, obj, error, spec.name if spec else None, self.settings)
        return self._outcome(spec, obj, "quarantined", 0, _millis(started), error)


def _millis(started: float) -> float:
    return (time.monotonic() - started) * 1000
