"""The Iceberg writer: bronze tables created on demand, one transaction per table per batch.

A :class:`GroupWrite` stages, in ONE pyiceberg transaction, everything a batch
of files does to a table: schema evolution (spec columns added since the
table was created, new columns found in files) and the data files. Data
files are written as the files are read (bounded memory), but nothing is
visible until :meth:`GroupWrite.commit`. Zero-row files are recorded by the
loader in the outcome log (:mod:`ingestion.outcomes`), not here.

Each file's share is a :class:`StagedFile`: its data files and the schema
they were written with. When a commit conflicts, or a quarantined file had
changed the schema, the loader builds a new ``GroupWrite`` on the newer table
and :meth:`GroupWrite.adopt` re-uses the staged data files without parsing
the file again, as long as every field id they use still means the same
column.

A file's last rows (for a small file: all of them) are written in the
background (:data:`WRITE_AHEAD` writers) while the loader parses the next
file: writing one Parquet file to MinIO is ~15 ms of mostly waiting, as long
as parsing a small file. The file is checked (``check``, ``verify``) before
its rows are handed over, so an outcome never depends on the write; a write
that fails fails the batch (an outage of the store; any other error is a bug,
and the listener isolates it as one), and its file is never adopted by a
later attempt of the batch (``write_failed``): it is parsed again. :meth:`GroupWrite.commit`
waits for every write, and :meth:`GroupWrite.settle` (the loader calls it
whatever happens) waits too, so a failed batch still knows every file it wrote.

Hazard: data files written for a transaction that is never committed stay in
storage as orphans (no reader sees them). :meth:`GroupWrite.discard` deletes
the ones it knows of; a crash leaves them for ``lakehouse maintain``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema, index_by_id
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import StringType

from ingestion.datafiles import task_schema_of, write_data_files
from ingestion.pipeline import FileReader
from ingestion.schema import SOURCE_ETAG, SOURCE_KEY, data_column_names
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec

log = logging.getLogger(__name__)

# Arrow bytes buffered before data files are written: bounds memory per file
# being loaded (writing needs about 2.5x this: partition split, Parquet encoding)
# and keeps data files from being tiny. 64 MB loads a 1.15 GB CSV in ~550 MB RSS.
FLUSH_BYTES = 64 << 20
# Data files being written in the background while the next file is parsed (per group),
# each of at most BACKGROUND_MAX_BYTES of Arrow data (a bigger tail is written at once).
WRITE_AHEAD = 4
BACKGROUND_MAX_BYTES = 8 << 20
_writers: ThreadPoolExecutor | None = None
_writers_lock = threading.Lock()


def _writer_pool() -> ThreadPoolExecutor:
    global _writers
    with _writers_lock:
        if _writers is None:
            _writers = ThreadPoolExecutor(WRITE_AHEAD, thread_name_prefix="data-writer")
        return _writers


def _forget_pool_in_child() -> None:
    # A forked child has none of the pool's threads: it would queue writes nobody runs.
    global _writers, _writers_lock
    _writers, _writers_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)

TABLE_PROPERTIES = {
    # Full bounds for the ledger columns: the IN (...) check prunes by them.
    f"write.metadata.metrics.column.{SOURCE_KEY}": "full",
    f"write.metadata.metrics.column.{SOURCE_ETAG}": "full",
    # No blind rebase of a conflicting append: the ledger check must be re-run
    # (see ingestion.ledger); BronzeLoader retries itself.
    "commit.retry.num-retries": "0",
    # One commit per batch adds a manifest each time; merging keeps planning cheap.
    "commit.manifest-merge.enabled": "true",
}


def open_table(catalog: Catalog, spec: DatasetSpec, namespace: str) -> Table:
    """Load the spec's table, creating namespace and table if absent (race-safe).

    Called for every batch, so the usual case (the table exists) is one catalog call.
    """
    identifier = spec.identifier(namespace)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        table = _create_table(catalog, spec, namespace)
    if table.current_snapshot() is None:  # created by another tool or an older version
        with table.transaction() as txn:
            with txn.update_snapshot().fast_append():
                pass
        table = catalog.load_table(identifier)
    missing = {k: v for k, v in TABLE_PROPERTIES.items() if table.properties.get(k) != v}
    if missing:  # a table created by another tool: make it safe for the ledger first
        table = table.transaction().set_properties(missing).commit_transaction()
    return table


def _create_table(catalog: Catalog, spec: DatasetSpec, namespace: str) -> Table:
    """Create the table WITH an empty first snapshot, in one catalog call.

    Nessie 0.99 does not detect a conflict between two concurrent *first*
    appends to a table (projectnessie/nessie#10062): one silently replaces the
    other and its files vanish from bronze although the ledger said "loaded".
    Once a snapshot exists, every append names its parent and a concurrent
    writer gets a conflict, which BronzeLoader handles by re-checking the ledger.
    """
    try:
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        pass
    identifier = spec.identifier(namespace)
    try:
        with catalog.create_table_transaction(
            identifier,
            schema=spec.schema,
            partition_spec=spec.partition_spec(),
            properties=TABLE_PROPERTIES | {"lakehouse.dataset": spec.name},
        ) as txn:
            with txn.update_snapshot().fast_append():
                pass  # the empty first snapshot (see docstring)
    except (TableAlreadyExistsError, CommitFailedException):
        pass  # a concurrent creator won the race: load theirs
    return catalog.load_table(identifier)


def data_commits(table: Table) -> int:
    """Commits that added data since the table was created (its empty first snapshot excluded).

    Counted by sequence number, not ``len(table.snapshots())``: Nessie's Iceberg
    REST returns only the current snapshot (projectnessie/nessie#10033), and a v2
    table's sequence number goes up by one per snapshot in every catalog.
    """
    return max(0, int(table.metadata.last_sequence_number) - 1)


@dataclass
class StagedFile:
    """One file's rows, written as data files of a not yet committed transaction."""

    obj: SourceObject
    rows: int
    millis: float
    files: list[DataFile] = field(default_factory=list)
    schema: Schema | None = None  # the schema its data files were written with
    new_columns: list[str] = field(default_factory=list)
    write_failed: bool = False  # its background write failed: never adopted, parsed again


class GroupWrite:
    """One table's share of a batch: files in, one commit out."""

    def __init__(self, table: Table, spec: DatasetSpec) -> None:
        self.table = table
        self.spec = spec
        self.txn = table.transaction()
        self._files: list[DataFile] = []
        self._uuid = uuid.uuid4()
        self._counter = itertools.count()
        self._metadata: TableMetadata | None = None
        self._task_schemas: dict[tuple[pa.Schema, int], Schema] = {}
        self._writing: list[tuple[StagedFile, Future[list[DataFile]]]] = []  # oldest first
        self._evolve_to_spec()

    @property
    def metadata(self) -> TableMetadata:
        """The transaction's metadata, cached: pyiceberg deep-copies it on every access
        (milliseconds, growing with the snapshot log), and only schema changes alter it here."""
        if self._metadata is None:
            self._metadata = self.txn.table_metadata
        return self._metadata

    @property
    def schema(self) -> Schema:
        return self.metadata.schema()

    @property
    def schema_id(self) -> int:
        return self.metadata.current_schema_id

    @property
    def changes_schema(self) -> bool:
        return self.schema_id != self.table.metadata.current_schema_id

    def _evolve_to_spec(self) -> None:
        """Add columns the spec declares but the table lacks (a spec grew)."""
        if set(data_column_names(self.spec.schema)) - set(self.schema.column_names):
            with self.txn.update_schema() as update:
                update.union_by_name(self.spec.schema)
            self._metadata = None

    def add_columns(self, names: list[str]) -> Schema:
        """Schema evolution for columns found in a file: added as strings (never dropped)."""
        with self.txn.update_schema() as update:
            for name in names:
                update.add_column(name, StringType(), doc=f"added by schema evolution ({self.spec.name})")
        self._metadata = None
        return self.schema

    def _write_job(self, batches: list[pa.RecordBatch]) -> Callable[[], list[DataFile]]:
        """Writing ``batches`` as data files, with the metadata and schema of now (a later
        schema change cannot reach a write already handed to a background writer)."""
        data = pa.Table.from_batches(batches)
        metadata = self.metadata
        # One conversion per Arrow schema and table schema, not per file: the files of a
        # batch almost always share both (an evolved schema has a new id, so a new entry).
        key = (data.schema, self.schema_id)
        task_schema = self._task_schemas.get(key)
        if task_schema is None:
            task_schema = self._task_schemas[key] = task_schema_of(metadata, data.schema)
        return lambda: write_data_files(metadata, self.table.io, data, self._uuid, self._counter, task_schema)

    def _write(self, batches: list[pa.RecordBatch]) -> list[DataFile]:
        return self._write_job(batches)() if batches else []

    def wait_writes(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` background writes are running; raises the first that failed
        (an outage: the store did not take a data file)."""
        while len(self._writing) > keep:
            staged, writing = self._writing.pop(0)
            try:
                files = writing.result()
            except BaseException:
                staged.write_failed = True
                raise
            staged.files.extend(files)
            self._files.extend(files)

    def settle(self) -> None:
        """Wait for every background write, failed or not (cleanup: the loader then knows, in its
        staged files, every data file this group wrote)."""
        while self._writing:
            try:
                self.wait_writes(len(self._writing) - 1)
            except Exception as exc:  # noqa: BLE001 - the failure is already being handled (or raised by commit)
                log.debug("a background data file write failed: %s", exc)

    def add_file(self, reader: FileReader, started: float) -> StagedFile:
        """Write one file's rows as data files (not yet committed).

        Raises:
            PermanentError: the file cannot be parsed or has no usable row, or
                it changed since it was listed (``obj.verify``); its data files
                are deleted again. The transaction may still hold a schema
                change made for this file: compare ``schema_id``.
        """
        mine: list[DataFile] = []
        buffer: list[pa.RecordBatch] = []
        size = 0

        def flush() -> None:
            nonlocal buffer, size
            mine.extend(self._write(buffer))
            buffer, size = [], 0

        def evolve(names: list[str]) -> Schema:
            flush()  # buffered batches have the old schema: write them before it changes
            return self.add_columns(names)

        try:
            for batch in reader.batches(self.schema, evolve):
                buffer.append(batch)
                size += batch.nbytes
                if size >= FLUSH_BYTES:
                    flush()
            reader.check()
            verify = getattr(reader.obj, "verify", None)
            if verify is not None:
                verify()  # the bytes read are the version the etag names (else: not loaded under it)
            if size > BACKGROUND_MAX_BYTES:  # a big file's tail: written now, memory stays bounded
                flush()
            last = self._write_job(buffer) if buffer else None
        except BaseException:
            self._delete(mine)
            raise
        self._files.extend(mine)
        staged = StagedFile(reader.obj, reader.rows, _millis_since(started), mine, self.schema,
                            list(reader.new_columns))
        if last is not None:  # the rest is written while the next file is parsed
            self._writing.append((staged, _writer_pool().submit(last)))
        return staged

    def adopt(self, staged: StagedFile) -> bool:
        """Take a file staged in an earlier transaction of this group, without re-reading it.

        Its columns are added again (same order); the data files are kept only
        if every field id in their schema still names the same column with the
        same type here. Returns False (the caller parses the file again) otherwise.
        """
        missing = [c for c in staged.new_columns if c not in self.schema.column_names]
        if missing:
            self.add_columns(missing)
        if staged.write_failed or staged.schema is None or not _same_ids(staged.schema, self.schema):
            return False
        self._files.extend(staged.files)
        return True

    def commit(self, files: int) -> Table:
        """Commit schema changes and data files atomically (after every background write)."""
        self.wait_writes()
        if self._files:
            merge = self.metadata.properties.get("commit.manifest-merge.enabled") == "true"
            producer = self.txn.update_snapshot(snapshot_properties={"lakehouse.files": str(files),
                                                                     "lakehouse.writer": "pyiceberg"})
            append = producer.merge_append() if merge else producer.fast_append()
            with append:
                for data_file in self._files:
                    append.append_data_file(data_file)
        return self.txn.commit_transaction()

    def discard(self) -> None:
        """Delete the data files of an abandoned transaction (best effort)."""
        self.settle()
        self._delete(self._files)
        self._files = []

    def _delete(self, files: list[DataFile]) -> None:
        delete_files(self.table, files)


def delete_files(table: Table, files: list[DataFile]) -> None:
    """Delete uncommitted data files (best effort: an orphan is harmless, ``maintain`` removes it)."""
    for data_file in files:
        try:
            table.io.delete(data_file.file_path)
        except OSError as exc:  # do not mask the real error
            log.warning("could not delete orphan data file %s: %s", data_file.file_path, exc)


def _same_ids(written: Schema, current: Schema) -> bool:
    now = index_by_id(current)
    for field_id, column in index_by_id(written).items():
        there = now.get(field_id)
        if there is None or there.name != column.name or there.field_type != column.field_type:
            return False
    return True


def _millis_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
