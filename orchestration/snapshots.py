"""What changed in a bronze table since a known snapshot, from Iceberg metadata only.

The bronze sensor calls this every few seconds, so nothing here scans data:
the current snapshot id comes from the table metadata, the counts from snapshot
summaries, and the sample of source keys from the ``_source_key`` bounds of the
data files the new snapshots added (the tables keep full bounds for that column,
see docs/ingestion.md). The cost depends on what changed since the last tick,
never on the table's history: the walk back through parent snapshots stops at
the last seen one or after :data:`MAX_SNAPSHOTS`, and only manifests added by the
new snapshots are opened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

log = logging.getLogger(__name__)

# Newer snapshots than this since the last tick are counted as "at least": the
# sensor then still triggers, only the added-rows figure is a lower bound.
MAX_SNAPSHOTS = 50
SAMPLE_KEYS = 10
SOURCE_KEY_COLUMN = "_source_key"


@dataclass(frozen=True)
class TableChange:
    """What the snapshots after the last seen one did to a bronze table."""

    table: str
    snapshot_id: int
    committed_ms: int  # when the current snapshot was committed (epoch ms)
    snapshots: int  # new snapshots seen (Nessie's REST catalog returns only the current one)
    rows_added: int
    data_files_added: int
    source_files: int  # files the loader committed (snapshot property lakehouse.files)
    data_changed: bool  # False for the empty first snapshot and for file-preserving rewrites
    complete: bool  # False when the walk stopped before reaching the last seen snapshot
    sample_keys: tuple[str, ...] = field(default=())


def current_snapshot_ids(catalog: Catalog, namespace: str, tables: list[str]) -> dict[str, int]:
    """The current snapshot id of each table that exists and has a snapshot."""
    ids: dict[str, int] = {}
    for name in tables:
        table = _load(catalog, namespace, name)
        snapshot = table.current_snapshot() if table is not None else None
        if snapshot is not None:
            ids[name] = snapshot.snapshot_id
    return ids


def describe_change(catalog: Catalog, namespace: str, name: str, since: int | None) -> TableChange:
    """Summarize the snapshots of ``namespace.name`` after snapshot ``since`` (None: all)."""
    table = _load(catalog, namespace, name)
    current = table.current_snapshot() if table is not None else None
    if table is None or current is None:
        raise NoSuchTableError(f"{namespace}.{name} has no snapshot; it cannot have changed")
    new, complete = _new_snapshots(table, current, since)
    return TableChange(
        table=name,
        snapshot_id=current.snapshot_id,
        committed_ms=current.timestamp_ms,
        snapshots=len(new),
        rows_added=sum(_int(s, "added-records") for s in new),
        data_files_added=sum(_int(s, "added-data-files") for s in new),
        source_files=sum(_int(s, "lakehouse.files") for s in new),
        data_changed=any(_changes_data(s) for s in new) or not complete,
        complete=complete,
        sample_keys=_sample_keys(table, new),
    )


def _load(catalog: Catalog, namespace: str, name: str) -> Table | None:
    try:
        return catalog.load_table((namespace, name))
    except NoSuchTableError:
        return None


def _new_snapshots(table: Table, current: Snapshot, since: int | None) -> tuple[list[Snapshot], bool]:
    """Current snapshot first, then its parents, until ``since`` (excluded) or the limit.

    Returns the snapshots and whether they are all of them: False when the limit
    was hit or a parent is missing (expired, or Nessie's REST catalog, which
    serves only the current snapshot).
    """
    new: list[Snapshot] = []
    snapshot: Snapshot | None = current
    while snapshot is not None and len(new) < MAX_SNAPSHOTS:
        if snapshot.snapshot_id == since:
            return new, True
        new.append(snapshot)
        parent = snapshot.parent_snapshot_id
        if parent is None:
            return new, since is None  # the table's first snapshot: all seen
        snapshot = table.snapshot_by_id(parent)
    return new, False


def _int(snapshot: Snapshot, key: str) -> int:
    value = snapshot.summary.get(key) if snapshot.summary is not None else None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _changes_data(snapshot: Snapshot) -> bool:
    """Did this snapshot add or remove rows? (A compaction's ``replace`` does neither.)"""
    if snapshot.summary is None:
        return True  # no summary: cannot tell, so assume it did
    if snapshot.summary.operation.value == "replace":
        return False
    return any(_int(snapshot, k) for k in ("added-records", "deleted-records", "added-data-files",
                                          "deleted-data-files", "added-delete-files"))


def _sample_keys(table: Table, new: list[Snapshot]) -> tuple[str, ...]:
    """Up to SAMPLE_KEYS distinct source keys of the data files the new snapshots added."""
    try:
        field_id = table.schema().find_field(SOURCE_KEY_COLUMN).field_id
    except ValueError:
        return ()
    keys: dict[str, None] = {}
    ids = {s.snapshot_id for s in new}
    seen: set[str] = set()
    for snapshot in new:
        for manifest in snapshot.manifests(table.io):
            if manifest.added_snapshot_id not in ids or not manifest.added_files_count:
                continue
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io):
                if entry.status != ManifestEntryStatus.ADDED or entry.snapshot_id not in ids:
                    continue
                bound = (entry.data_file.lower_bounds or {}).get(field_id)
                if bound is not None:
                    keys[bound.decode("utf-8", errors="replace")] = None
                if len(keys) >= SAMPLE_KEYS:
                    return tuple(keys)
    return tuple(keys)
