"""``lakehouse maintain``: compact small bronze data files, expire old snapshots, remove orphan files.

Every batch writes one data file per source file (and partition). That keeps
the ledger cheap to maintain (a single-source file names its source by its
column bounds), but thousands of tiny files make every scan slow. Compaction
rewrites the small files of a partition into files of up to
``write.target-file-size-bytes`` and commits a ``replace`` snapshot (the
operation Iceberg Java's RewriteFiles uses; the Dagster sensor ignores it, as
it adds no data). The rows, including their lineage columns, are copied
exactly, so the ledger still finds every source file: its index reads the two
lineage columns of each compacted file once (see :mod:`ingestion.ledger`).

Readers are safe: a Spark or DuckDB query planned on the snapshot before the
compaction keeps reading the old files, which are only deleted once no
retained snapshot references them and they are older than the orphan cutoff.

* **Expiry** keeps the newest ``retain_last`` snapshots and every snapshot
  younger than ``expire_older_than`` — but no more than ``max_snapshots`` in
  all (SQLite catalog). Every snapshot is in ``metadata.json``, which each
  load and commit parses and rewrites (about 0.45 ms of CPU per snapshot per
  batch: a listener committing every few seconds would otherwise pay seconds
  per batch after a day). Beyond the cap, young snapshots go too, except the
  parent of each young compaction (``replace``): in an append-only table it
  references every file an older snapshot could be read with, so a query
  planned before a compaction keeps its files until the age cutoff. On Nessie the catalog
  keeps history as Nessie commits and its REST API shows only the current
  snapshot: expiry and orphan removal are Nessie GC's job there, and are skipped.
* **Orphan files** are files under the table's location that no retained
  snapshot, manifest or metadata file references and that are older than
  ``orphan_older_than`` (so a batch being written right now is never touched).

Hazard: a compaction that races a concurrent commit fails its commit and is
retried from a fresh plan (the tables refuse blind rebases), so it never
loses an append.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update.snapshot import _OverwriteFiles

from ingestion.datafiles import write_data_files
from ingestion.outcomes import OUTCOMES_TABLE
from ingestion.specs import SPECS

log = logging.getLogger(__name__)

DEFAULT_TARGET_BYTES = 128 << 20
COMPACT_ATTEMPTS = 3


@dataclass
class MaintenanceReport:
    """What ``maintain`` did to one table."""

    table: str
    data_files_before: int = 0
    data_files_after: int = 0
    files_rewritten: int = 0
    files_written: int = 0
    rows_rewritten: int = 0
    snapshots_expired: int = 0
    orphans_removed: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MaintenanceOptions:
    target_bytes: int = DEFAULT_TARGET_BYTES
    min_input_files: int = 2  # a partition with fewer small files than this is left alone
    retain_last: int = 5
    max_snapshots: int = 100  # young snapshots are expired too beyond this many (see the module docstring)
    expire_older_than: timedelta = timedelta(days=1)
    orphan_older_than: timedelta = timedelta(days=1)


class _RewriteFiles(_OverwriteFiles):
    """An overwrite whose snapshot says ``replace``: same rows, other files.

    pyiceberg 0.12 can only compute summaries for append/overwrite/delete, so
    the summary is computed as an overwrite and relabelled.
    """

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        self._operation = Operation.OVERWRITE
        try:
            summary = super()._summary(snapshot_properties or {})
        finally:
            self._operation = Operation.REPLACE
        return Summary(Operation.REPLACE, **summary.additional_properties)


def maintenance_tables(catalog: Catalog, namespace: str, only: str | None = None) -> Iterator[Table]:
    """The bronze tables (and the outcome log) that exist, or just ``only``."""
    names = [only] if only else [spec.table for spec in SPECS] + [OUTCOMES_TABLE]
    for name in names:
        try:
            yield catalog.load_table((namespace, name.split(".")[-1]))
        except NoSuchTableError:
            if only:
                raise


def maintain(catalog: Catalog, namespace: str, *, table: str | None = None, nessie: bool = False,
             options: MaintenanceOptions = MaintenanceOptions()) -> list[MaintenanceReport]:
    """Compact, expire and clean every bronze table (or one)."""
    reports = []
    for loaded in maintenance_tables(catalog, namespace, table):
        started = time.monotonic()
        identifier = loaded.name()
        report = MaintenanceReport(table=".".join(identifier))
        compacted = compact(catalog, identifier, options, report)
        if nessie:
            report.skipped += ["expire_snapshots", "remove_orphan_files"]  # Nessie GC's job (module docstring)
        else:
            compacted = expire_snapshots(compacted, options, report)
            remove_orphan_files(compacted, options, report)
        report.seconds = round(time.monotonic() - started, 2)
        log.info("maintain %s: %s", report.table, report.as_dict())
        reports.append(report)
    return reports


# ---- compaction ------------------------------------------------------------------
def _plan(table: Table, options: MaintenanceOptions) -> list[list[FileScanTask]]:
    """Groups of small data files of one partition each, every group up to the target size."""
    by_partition: dict[tuple[int, str], list[FileScanTask]] = defaultdict(list)
    for task in table.scan().plan_files():
        data_file = task.file
        if data_file.file_size_in_bytes < options.target_bytes * 3 // 4 and not task.delete_files:
            by_partition[(data_file.spec_id, repr(data_file.partition))].append(task)
    groups = []
    for tasks in by_partition.values():
        if len(tasks) < options.min_input_files:
            continue
        group: list[FileScanTask] = []
        size = 0
        for task in sorted(tasks, key=lambda t: t.file.file_path):
            if group and size + task.file.file_size_in_bytes > options.target_bytes:
                groups.append(group)
                group, size = [], 0
            group.append(task)
            size += task.file.file_size_in_bytes
        if len(group) >= options.min_input_files:
            groups.append(group)
    return groups


def _rewrite(table: Table, groups: list[list[FileScanTask]], report: MaintenanceReport) -> tuple[list[DataFile], list[DataFile]]:
    old: list[DataFile] = []
    new: list[DataFile] = []
    write_uuid, counter = uuid.uuid4(), itertools.count()
    scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    for group in groups:
        rows: pa.Table = scan.to_table(group)
        if "_source_key" in rows.column_names:
            rows = rows.sort_by("_source_key")  # tight key bounds per compacted file
        new += write_data_files(table.metadata, table.io, rows, write_uuid, counter)
        old += [task.file for task in group]
        report.rows_rewritten += rows.num_rows
    return old, new


def compact(catalog: Catalog, identifier: tuple[str, ...], options: MaintenanceOptions,
            report: MaintenanceReport) -> Table:
    for attempt in range(1, COMPACT_ATTEMPTS + 1):
        table = catalog.load_table(identifier)
        report.data_files_before = report.data_files_after = _count_files(table)
        groups = _plan(table, options)
        if not groups:
            return table
        old, new = _rewrite(table, groups, report)
        txn = table.transaction()
        rewrite = _RewriteFiles(operation=Operation.REPLACE, transaction=txn, io=table.io,
                                snapshot_properties={"lakehouse.writer": "maintain"})
        for data_file in old:
            rewrite.delete_data_file(data_file)
        for data_file in new:
            rewrite.append_data_file(data_file)
        rewrite.commit()
        try:
            table = txn.commit_transaction()
        except CommitFailedException as exc:
            for data_file in new:
                table.io.delete(data_file.file_path)
            report.rows_rewritten = 0
            log.info("compaction of %s raced another commit (attempt %d): %s", report.table, attempt, exc)
            continue
        report.files_rewritten, report.files_written = len(old), len(new)
        report.data_files_after = _count_files(table)
        return table
    report.skipped.append("compaction (raced other writers)")
    return catalog.load_table(identifier)


def _count_files(table: Table) -> int:
    return sum(1 for _ in table.scan().plan_files()) if table.current_snapshot() else 0


# ---- expiry ----------------------------------------------------------------------
def expire_snapshots(table: Table, options: MaintenanceOptions, report: MaintenanceReport) -> Table:
    current = table.current_snapshot()
    if current is None:
        return table
    cutoff_ms = int((datetime.now(timezone.utc) - options.expire_older_than).timestamp() * 1000)
    newest = sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
    keep = {s.snapshot_id for s in newest[:max(options.retain_last, 1)]} | {current.snapshot_id}
    young = [s for s in newest if s.timestamp_ms >= cutoff_ms]
    if len(young) <= options.max_snapshots:
        keep |= {s.snapshot_id for s in young}
    else:  # too many young ones: the newest, and what readers planned before a young compaction need
        keep |= {s.snapshot_id for s in young[:options.max_snapshots]}
        keep |= {s.parent_snapshot_id for s in young
                 if s.summary is not None and s.summary.operation != Operation.APPEND and s.parent_snapshot_id}
    expired = [s.snapshot_id for s in newest if s.snapshot_id not in keep]
    if expired:
        table.maintenance.expire_snapshots().by_ids(expired).commit()
        report.snapshots_expired = len(expired)
        table = table.refresh()
    return table


# ---- orphan files ------------------------------------------------------------------
def _referenced(table: Table) -> set[str]:
    paths = {table.metadata_location}
    paths |= {entry.metadata_file for entry in table.metadata.metadata_log}
    paths |= {s.statistics_path for s in table.metadata.statistics}
    for snapshot in table.snapshots():
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):  # a tombstone needs no file
                paths.add(entry.data_file.file_path)
    return {_local_path(p) for p in paths}


def _local_path(location: str) -> str:
    parsed = urlparse(location)
    return parsed.path if parsed.scheme in ("file", "") else location


def remove_orphan_files(table: Table, options: MaintenanceOptions, report: MaintenanceReport) -> None:
    root = urlparse(table.location())
    if root.scheme not in ("file", ""):
        report.skipped.append("remove_orphan_files (object-store warehouse)")
        return
    referenced = _referenced(table)
    cutoff = time.time() - options.orphan_older_than.total_seconds()
    for path in Path(root.path).rglob("*"):
        if path.is_file() and str(path) not in referenced and path.stat().st_mtime < cutoff:
            path.unlink()
            report.orphans_removed += 1
