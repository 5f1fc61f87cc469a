"""BronzeLoader: a batch of landed files in, one Iceberg commit per table out.

The listener (events) and ``lakehouse replay`` (listing) both call
:meth:`BronzeLoader.load`. Per table group it:

1. opens (or creates) the table and asks the ledger (rows in the table, plus
   the outcome log for zero-row and quarantined files) about the group's files;
2. marks files already loaded, recorded empty, quarantined before, or
   repeated within the batch ``duplicate``;
3. parses and writes the rest; a file that fails — with ``PermanentError``
   or anything unclassified (reason ``unexpected``) — is quarantined and the
   others carry on;
4. commits schema evolution and data files in ONE transaction;
5. after all groups, appends the batch's zero-row and quarantine outcomes to
   the outcome log (one commit; see :mod:`ingestion.outcomes` for why that is
   safe outside the data commit).

A crash before step 4 commits nothing; a crash after it is undone by step 2 on
the retry. A conflicting concurrent commit (another listener, a Spark
backfill, a compaction) keeps the data files already written: the group is
checked again against the newer snapshot — the ledger index reads only what
that commit added — files the other writer loaded become duplicates (their
data files are deleted) and the rest is committed without parsing anything
again. Each conflict divides how many of the written files the next attempt
commits by ``SHARE_FACTOR`` (the rest wait, still written, for the next commit
of the same call; each success multiplies it again): a large batch against another instance's
stream of small commits makes progress at the size that wins the race, instead
of losing every race with a commit as large as the batch. Restarts caused by a
quarantined file's schema change are not conflicts and do not use the conflict
budget: each one settles a file, so they end.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict, defaultdict
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
from pyiceberg.table import Table
from sqlalchemy.exc import OperationalError
from urllib3.exceptions import HTTPError

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from ingestion import ledger
from ingestion.catalog import open_catalog
from ingestion.outcomes import EMPTY, QUARANTINED, Outcome, OutcomeIndex, OutcomeLog, settled
from ingestion.pipeline import FileReader
from ingestion.quarantine import quarantine
from ingestion.readahead import ReadAhead
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec, route
from ingestion.storage import ObjectStore, open_store
from ingestion.writer import WRITE_AHEAD, GroupWrite, StagedFile, delete_files, open_table

log = logging.getLogger(__name__)

# Conflicts within one ``load`` call before it raises RetryableError. Each retry
# costs a ledger refresh (the other writers' new manifests) and a commit, no
# parsing; the written files are kept across calls too (``BronzeLoader._keep``).
COMMIT_ATTEMPTS = 8
CONFLICT_PAUSE_S = 0.02  # times the conflicts so far: the upper bound of the random pause
KEEP_FILES = 20_000  # written files kept for the retry of a conflicted batch
# A conflict divides what the next commit of the group may carry by this, a commit that goes
# through multiplies it again: within COMMIT_ATTEMPTS a 20,000-file group is down to a few files.
SHARE_FACTOR = 4
LOADED = "loaded"
# Errors that mean "a service is unreachable or overloaded", never "bad input".
# requests' ConnectionError is an OSError; so are pyarrow's S3 errors.
OUTAGES: tuple[type[BaseException], ...] = (
    OSError, HTTPError, ServerError, ServiceUnavailableError, TooManyRequestsError,
    CommitStateUnknownException, OperationalError,
)
# Never turned into a quarantine: they are about this process, not the file.
NOT_ABOUT_THE_FILE: tuple[type[BaseException], ...] = (
    RetryableError, CommitFailedException, MemoryError, *OUTAGES,
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
    """A quarantined file had already changed the group's schema: build the group again without it."""


Item = tuple[int, SourceObject]


class BronzeLoader:
    """Loads batches of landed files into their bronze tables, exactly once per (key, etag)."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, store: ObjectStore | None = None) -> None:
        self.settings = settings
        self._catalog = catalog
        self.store = store if store is not None else open_store(settings)
        # Files written by a group that gave up after COMMIT_ATTEMPTS conflicts, by (table, key, etag):
        # the caller retries the batch, and the retry adopts them instead of parsing again.
        self._kept: OrderedDict[tuple[str, str, str], StagedFile] = OrderedDict()
        # What such a group had committed in parts before it gave up: the retry reports these
        # files as loaded (by this batch), not as duplicates of itself.
        self._committed: OrderedDict[tuple[str, str, str], FileOutcome] = OrderedDict()

    @property
    def catalog(self) -> Catalog:
        """Opened on first use, so a loader can be built while the catalog is down."""
        if self._catalog is None:
            with outages_are_retryable("opening the catalog"):
                self._catalog = open_catalog(self.settings)
        return self._catalog

    @property
    def outcome_log(self) -> OutcomeLog:
        return OutcomeLog(self.catalog, self.settings.bronze_namespace)

    def qualified(self, spec: DatasetSpec) -> str:
        return f"{self.settings.bronze_namespace}.{spec.table}"

    def load(self, objects: Sequence[SourceObject], *, retry_quarantined: bool = False) -> list[FileOutcome]:
        """Load a batch; return one outcome per object, in input order.

        Args:
            retry_quarantined: try files quarantined before again
                (``lakehouse quarantine retry``); by default they are duplicates.

        Raises:
            RetryableError: storage or catalog unreachable. Nothing of the
                failing table's group was committed; groups committed before
                it are in the ledger, so calling ``load`` again with the same
                batch is safe.
        """
        outcomes: dict[int, FileOutcome] = {}
        groups: dict[str, list[Item]] = defaultdict(list)
        specs: dict[str, DatasetSpec] = {}
        records: list[Outcome] = []
        with outages_are_retryable("reading the outcome log"):
            known = self.outcome_log.index()
        for index, obj in enumerate(objects):
            spec = route(obj.key)
            if spec is not None:
                specs[spec.name] = spec
                groups[spec.name].append((index, obj))
            elif not retry_quarantined and any(o.outcome == QUARANTINED for o in known.of((obj.key, obj.etag))):
                outcomes[index] = self._outcome(None, obj, "duplicate", 0, 0.0)
            else:
                error = PermanentError(f"no dataset spec matches {obj.key!r}; see ingestion/specs.py",
                                       reason=reasons.UNROUTABLE_KEY)
                outcomes[index] = self._quarantine(obj, error, None, time.monotonic(), records)
        for name, items in groups.items():
            outcomes.update(self._load_group(specs[name], items, known, retry_quarantined, records))
        with outages_are_retryable("recording outcomes"):
            self.outcome_log.record(records)
        return [outcomes[i] for i in range(len(objects))]

    def pending(self, objects: Iterable[SourceObject]) -> list[SourceObject]:
        """The objects the ledger has no outcome for: not loaded, not empty, not quarantined."""
        objects = list(objects)
        by_spec: dict[str, list[SourceObject]] = defaultdict(list)
        specs: dict[str, DatasetSpec] = {}
        unroutable: list[SourceObject] = []
        for obj in objects:
            spec = route(obj.key)
            if spec is None:
                unroutable.append(obj)
            else:
                specs[spec.name] = spec
                by_spec[spec.name].append(obj)
        done: set[tuple[str, str]] = set()
        with outages_are_retryable("reading the ledger"):
            known = self.outcome_log.index()
            for name, group in by_spec.items():
                try:
                    table = self.catalog.load_table(specs[name].identifier(self.settings.bronze_namespace))
                except NoSuchTableError:
                    table = None
                done |= set(self._states(table, specs[name], group, known))
            done |= set(settled(known, ((o.key, o.etag) for o in unroutable), None))
        return [o for o in objects if (o.key, o.etag) not in done]

    def _states(self, table: Table | None, spec: DatasetSpec, objs: Iterable[SourceObject],
                known: OutcomeIndex) -> dict[tuple[str, str], str]:
        """Each pair the ledger knows: ``loaded`` (rows), ``empty`` or ``quarantined``."""
        pairs = {(o.key, o.etag) for o in objs}
        found = {p: LOADED for p in (ledger.loaded(table, pairs) if table is not None else ())}
        return settled(known, [p for p in pairs if p not in found], spec.table) | found

    # ---- one table ---------------------------------------------------------------
    def _load_group(self, spec: DatasetSpec, items: list[Item], known: OutcomeIndex, retry: bool,
                    records: list[Outcome]) -> dict[int, FileOutcome]:
        done: dict[int, FileOutcome] = {}
        staged: dict[int, StagedFile] = {}  # written, not committed: kept across conflicts
        for index, obj in items:  # written by an earlier call that gave up after conflicts
            earlier = self._kept.pop((spec.table, obj.key, obj.etag), None)
            if earlier is not None:
                staged[index] = earlier
            committed = self._committed.pop((spec.table, obj.key, obj.etag), None)
            if committed is not None:
                done[index] = committed
        conflicts = 0  # in a row, since the last commit that went through
        share = len(items)  # how many written files the next commit may carry
        table: Table | None = None
        try:
            while True:
                try:
                    with outages_are_retryable(f"loading into {self.qualified(spec)}"):
                        table = open_table(self.catalog, spec, self.settings.bronze_namespace)
                        if self._attempt(spec, table, items, done, staged, known, retry, records, share):
                            return done
                    conflicts, share = 0, min(len(items), share * SHARE_FACTOR)  # a part went through: grow again
                except CommitFailedException as exc:
                    conflicts += 1
                    share = max(1, share // SHARE_FACTOR)
                    if conflicts >= COMMIT_ATTEMPTS:
                        self._keep(spec, table, staged, done)
                        staged = {}
                        raise RetryableError(f"{self.qualified(spec)}: {COMMIT_ATTEMPTS} commits in a row "
                                             "conflicted with other writers (written files kept for the retry)") from exc
                    log.info("commit to %s conflicted (attempt %d): %s; checking the %d written files against "
                             "the newer snapshot", self.qualified(spec), conflicts, exc, len(staged))
                    # A short random pause: two writers in lock-step would otherwise keep colliding.
                    time.sleep(random.uniform(0, CONFLICT_PAUSE_S * conflicts))  # noqa: S311 - jitter, not crypto
                except _Restart:
                    log.info("building %s's commit again without a quarantined file's schema change",
                             self.qualified(spec))
        except BaseException:
            if table is not None:  # the staged files are in no commit: orphans
                delete_files(table, [f for s in staged.values() for f in s.files])
            raise

    def _keep(self, spec: DatasetSpec, table: Table | None, staged: dict[int, StagedFile],
              done: dict[int, FileOutcome]) -> None:
        """Keep a conflicted group's written files, and what its parts committed, for the retry of its batch
        (the oldest go beyond KEEP_FILES)."""
        for file in staged.values():
            self._kept[(spec.table, file.obj.key, file.obj.etag)] = file
        for outcome in done.values():  # rows in the table; a zero-row file is simply loaded again
            if outcome.outcome == LOADED and outcome.rows:
                self._committed[(spec.table, outcome.key, outcome.etag)] = outcome
        while len(self._committed) > KEEP_FILES:
            self._committed.popitem(last=False)
        while len(self._kept) > KEEP_FILES:
            _, old = self._kept.popitem(last=False)
            if table is not None:
                delete_files(table, old.files)

    def _attempt(self, spec: DatasetSpec, table: Table, items: list[Item], done: dict[int, FileOutcome],
                 staged: dict[int, StagedFile], known: OutcomeIndex, retry: bool, records: list[Outcome],
                 share: int) -> bool:
        """Build and commit the group; True when every item is settled.

        At most ``share`` of the files written by earlier attempts go into this
        commit; the others stay written in ``staged`` for the next attempt
        (False is returned then).
        """
        todo = [(i, o) for i, o in items if i not in done]
        states = self._states(table, spec, (o for _, o in todo), known)
        group = GroupWrite(table, spec)
        ingested_at = datetime.now(timezone.utc)
        seen: set[tuple[str, str]] = set()
        waiting: dict[int, StagedFile] = {}  # written, beyond this commit's share
        adopted = 0  # files written by earlier attempts, in this commit
        ahead = ReadAhead(self._to_read(todo, staged, states, retry) if getattr(self.store, "remote", False) else ())
        try:
            for index, obj in todo:
                pair = (obj.key, obj.etag)
                state = states.get(pair)
                earlier = staged.pop(index, None)
                if earlier is not None:
                    if state in (LOADED, EMPTY):  # another writer committed it meanwhile
                        delete_files(table, earlier.files)
                    elif adopted >= share:
                        waiting[index] = earlier
                        seen.add(pair)
                        continue
                    elif group.adopt(earlier):
                        staged[index] = earlier
                        adopted += 1
                        seen.add(pair)
                        continue
                    else:
                        delete_files(table, earlier.files)  # the schema moved under it: parse it again
                if pair in seen or state in (LOADED, EMPTY) or (state == QUARANTINED and not retry):
                    done[index] = self._outcome(spec, obj, "duplicate", 0, 0.0)
                    continue
                seen.add(pair)
                schema_before = group.schema_id
                result = self._stage(spec, group, ahead.source(obj), ingested_at, records)
                if isinstance(result, StagedFile):
                    result.obj = obj  # not the one holding the bytes read ahead: staged files wait for the commit
                    staged[index] = result
                else:
                    done[index] = result
                    if group.schema_id != schema_before:
                        group.wait_writes()  # a failed write must fail the batch, not ride into the restart
                        raise _Restart()
                # Outside _stage (a failed write of an earlier file is not this file's fault),
                # and after the file is in staged (its data files are deleted if the batch fails).
                group.wait_writes(keep=WRITE_AHEAD)
            self._commit(spec, group, staged, done, records)
        finally:  # committed or not, the waiting files are still written and not yet in the table
            group.settle()  # background writes end first: every staged file then names its data files
            staged.update(waiting)
            ahead.close()
        return not waiting

    @staticmethod
    def _to_read(todo: list[Item], staged: dict[int, StagedFile], states: dict[tuple[str, str], str],
                 retry: bool) -> list[SourceObject]:
        """The files ``_attempt`` will parse, in its order: not written before, not settled in the
        ledger, each version once (a repeat in the batch is a duplicate, never parsed)."""
        chosen: dict[tuple[str, str], SourceObject] = {}
        for index, obj in todo:
            state = states.get((obj.key, obj.etag))
            if index not in staged and state not in (LOADED, EMPTY) and not (state == QUARANTINED and not retry):
                chosen.setdefault((obj.key, obj.etag), obj)
        return list(chosen.values())

    def _stage(self, spec: DatasetSpec, group: GroupWrite, obj: SourceObject, ingested_at: datetime,
               records: list[Outcome]) -> StagedFile | FileOutcome:
        """One file into the group's transaction, or into quarantine (any error but an outage)."""
        started = time.monotonic()
        try:
            if obj.size == 0:
                raise PermanentError(f"{obj.key} is empty (0 bytes)", reason=reasons.EMPTY_FILE)
            return group.add_file(FileReader(spec, obj, ingested_at), started)
        except NOT_ABOUT_THE_FILE:
            raise
        except PermanentError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - unclassified: isolated to this one file (DESIGN §5.6)
            log.exception("unexpected error loading %s into %s", obj.key, self.qualified(spec))
            error = PermanentError(f"{obj.key}: unexpected {type(exc).__name__}: {exc}", reason=reasons.UNEXPECTED)
            error.__cause__ = exc
        return self._quarantine(obj, error, spec, started, records)

    def _commit(self, spec: DatasetSpec, group: GroupWrite, staged: dict[int, StagedFile],
                done: dict[int, FileOutcome], records: list[Outcome]) -> None:
        commit_started = time.monotonic()
        group.wait_writes()  # a file's data files are known once its background write ended
        if any(s.files for s in staged.values()) or group.changes_schema:
            try:
                group.commit(len(staged))
            except CommitFailedException:
                raise  # certainly not committed: the staged files are kept for the next attempt
            except BaseException:
                staged.clear()  # it may have landed: never delete files a commit may reference
                raise
        commit_millis = _millis(commit_started)
        for index, file in staged.items():
            # A file's time is its own parse and write plus the commit it waited for.
            done[index] = self._outcome(spec, file.obj, "loaded", file.rows, file.millis + commit_millis)
            if file.rows == 0:
                records.append(Outcome(spec.table, file.obj.key, file.obj.etag, EMPTY))
        staged.clear()

    def _outcome(self, spec: DatasetSpec | None, obj: SourceObject, outcome: str, rows: int, millis: float,
                 error: PermanentError | None = None) -> FileOutcome:
        table = self.qualified(spec) if spec is not None else None
        # DEBUG: the listener and the bulk CLIs log the one INFO line per file.
        log.debug("bronze key=%s table=%s rows=%d ms=%.1f outcome=%s%s", obj.key, table, rows, millis, outcome,
                  f" reason={error.reason}" if error else "",
                  extra={"key": obj.key, "table": table, "rows": rows, "ms": round(millis, 1), "outcome": outcome})
        return FileOutcome(obj.key, obj.etag, table, outcome, rows, millis, error)

    def _quarantine(self, obj: SourceObject, error: PermanentError, spec: DatasetSpec | None,
                    started: float, records: list[Outcome]) -> FileOutcome:
        quarantine(self.store, obj, error, spec.name if spec else None, self.settings)
        records.append(Outcome(spec.table if spec else None, obj.key, obj.etag, QUARANTINED, error.reason,
                               str(error)[:2000]))
        return self._outcome(spec, obj, "quarantined", 0, _millis(started), error)


def _millis(started: float) -> float:
    return (time.monotonic() - started) * 1000
