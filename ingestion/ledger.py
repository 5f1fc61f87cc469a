"""The ledger of loaded files: which (key, etag) pairs a bronze table already holds.

The table is the only source of truth. A file with rows is recorded by its
rows' ``_source_key``/``_source_etag`` lineage columns, written in the commit
that adds the rows, so they survive snapshot expiry and compaction. Zero-row
and quarantined files leave no row; they are recorded in the namespace's
outcome log (:mod:`ingestion.outcomes`).

Answering "which of these pairs are loaded?" must not cost more on a table of
a million source files than on one of a thousand (DESIGN §5.8, §10), so each
table has an in-memory :class:`ManifestIndex`: a count of the pairs held by the
live data files, maintained from the manifests of the table's *current*
snapshot. Manifests are immutable, so a manifest already read never needs
reading again: a check reads the (small, merged) manifest list, subtracts the
manifests that left it and reads only the ones that joined since the last
check — the other writers' commits, a compaction, our own last commit. A data
file that holds one source file (every file the loaders write) names it by
its exact lower == upper bounds of the two columns (tables keep full bounds),
so no data is read; a file holding several (compacted by ``lakehouse
maintain``, or written by Spark) is read once, two columns, and cached by path.

The index is a cache of the table, never a second ledger: it is refreshed
from the very ``Table`` object the commit builds on, so a crash, a restart
(the index is rebuilt from the manifests, a one-off cost linear in history),
a second instance, Spark or a compaction in between cannot make it answer
wrong. Only the current snapshot is used, which is also all Nessie's REST
catalog returns (projectnessie/nessie#10033).

Hazards: deleting rows of a file removes it from the ledger (copy-on-write
deletes rewrite the data file); merge-on-read delete files are ignored, so a
file whose rows were deleted that way still counts as loaded. Legacy tables
may hold ``lakehouse.ledger.empty.*`` properties from older versions: they
are still honoured, never written.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import pyarrow.parquet as pq
from pyiceberg.manifest import DataFile, ManifestContent, ManifestFile
from pyiceberg.table import Table

from ingestion.schema import SOURCE_ETAG, SOURCE_KEY

log = logging.getLogger(__name__)

LEGACY_EMPTY_PREFIX = "lakehouse.ledger.empty."

Pair = tuple[str, str]


@dataclass
class RefreshStats:
    """What one refresh cost: the figures the benchmark and the tests look at."""

    manifests_read: int = 0
    manifests_dropped: int = 0
    data_files_read: int = 0


class ManifestIndex:
    """A multiset of items extracted from the live data files of a table's current snapshot.

    Subclasses say how a data file becomes items (:meth:`_extract`). Items are
    counted once per live data file that holds them, so removing a manifest
    (merged away, compacted) subtracts exactly what it added.
    """

    def __init__(self) -> None:
        self.snapshot_id: int | None = None
        self.counts: Counter[Hashable] = Counter()
        self._manifests: dict[str, tuple[list[Hashable], list[str]]] = {}  # path -> (items, read files)
        self._read_files: dict[str, tuple[Hashable, ...]] = {}  # data file path -> items (immutable files)
        self._lock = threading.Lock()
        self.last = RefreshStats()

    def refresh(self, table: Table) -> RefreshStats:
        """Bring the index to ``table``'s current snapshot; cost: the manifests that changed."""
        with self._lock:
            stats = RefreshStats()
            snapshot = table.current_snapshot()
            if snapshot is None:
                self._clear()
            elif snapshot.snapshot_id != self.snapshot_id:
                manifests = {m.manifest_path: m for m in snapshot.manifests(table.io)
                             if m.content == ManifestContent.DATA}
                for path in [p for p in self._manifests if p not in manifests]:
                    self._drop(path)
                    stats.manifests_dropped += 1
                for path, manifest in manifests.items():
                    if path not in self._manifests:
                        self._read(table, manifest, stats)
                        stats.manifests_read += 1
                self.snapshot_id = snapshot.snapshot_id
                self._prune_read_files()
            self.last = stats
            return stats

    def _clear(self) -> None:
        self.snapshot_id = None
        self.counts.clear()
        self._manifests.clear()
        self._read_files.clear()

    def _drop(self, path: str) -> None:
        items, _ = self._manifests.pop(path)
        for item in items:
            self._removed(item)

    def _read(self, table: Table, manifest: ManifestFile, stats: RefreshStats) -> None:
        items: list[Hashable] = []
        read: list[str] = []
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            data_file = entry.data_file
            found = self._from_metadata(table, data_file)
            if found is None:
                read.append(data_file.file_path)
                found = self._read_files.get(data_file.file_path)
                if found is None:
                    found = self._read_files[data_file.file_path] = tuple(self._extract(table, data_file))
                    stats.data_files_read += 1
            items.extend(found)
        for item in items:
            self._added(item)
        self._manifests[manifest.manifest_path] = (items, read)

    def _prune_read_files(self) -> None:
        """Forget read files that left the table (compacted again, expired) once they pile up."""
        live = sum(len(read) for _, read in self._manifests.values())
        if len(self._read_files) > 2 * live + 64:
            keep = {path for _, read in self._manifests.values() for path in read}
            self._read_files = {p: v for p, v in self._read_files.items() if p in keep}

    def _added(self, item: Hashable) -> None:
        self.counts[item] += 1

    def _removed(self, item: Hashable) -> None:
        left = self.counts[item] - 1
        if left > 0:
            self.counts[item] = left
        else:
            del self.counts[item]

    def _from_metadata(self, table: Table, data_file: DataFile) -> tuple[Hashable, ...] | None:
        """The file's items from manifest metadata alone, or None if its data must be read."""
        return None

    def _extract(self, table: Table, data_file: DataFile) -> Iterable[Hashable]:
        raise NotImplementedError


class DataLedger(ManifestIndex):
    """The (key, etag) pairs the rows of one bronze table hold."""

    def _field_ids(self, table: Table) -> tuple[int, int]:
        schema = table.schema()
        return schema.find_field(SOURCE_KEY).field_id, schema.find_field(SOURCE_ETAG).field_id

    def _from_metadata(self, table: Table, data_file: DataFile) -> tuple[Hashable, ...] | None:
        key_id, etag_id = self._field_ids(table)
        lower, upper = data_file.lower_bounds or {}, data_file.upper_bounds or {}
        key, etag = lower.get(key_id), lower.get(etag_id)
        nulls = data_file.null_value_counts or {}
        # lower == upper with full bounds: every row holds this one value (truncated
        # bounds of different values can never be equal: the upper one is incremented).
        if key is None or etag is None or key != upper.get(key_id) or etag != upper.get(etag_id):
            return None
        if nulls.get(key_id, 0) or nulls.get(etag_id, 0):
            return None
        return ((key.decode("utf-8"), etag.decode("utf-8")),)

    def _extract(self, table: Table, data_file: DataFile) -> Iterable[Hashable]:
        with table.io.new_input(data_file.file_path).open() as stream:
            columns = pq.read_table(stream, columns=[SOURCE_KEY, SOURCE_ETAG])
        unique = columns.group_by([SOURCE_KEY, SOURCE_ETAG]).aggregate([])
        return list(zip(unique.column(SOURCE_KEY).to_pylist(), unique.column(SOURCE_ETAG).to_pylist()))

    def holds(self, pair: Pair) -> bool:
        return pair in self.counts

    def pairs(self) -> set[Pair]:
        return set(self.counts)  # type: ignore[arg-type]


_INDEXES: dict[tuple[str, str], ManifestIndex] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(table: Table, kind: type[ManifestIndex] = DataLedger) -> ManifestIndex:
    """The process-wide index of a table (by its UUID: a dropped and re-created table gets a new one)."""
    key = (str(table.metadata.table_uuid), kind.__name__)
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is None:
            index = _INDEXES[key] = kind()
        return index


def forget_indexes() -> None:
    """Drop every in-memory index, as a restart does (tests and benchmarks)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()


def _legacy_empty_files(table: Table) -> set[Pair]:
    pairs = set()
    for name, value in table.properties.items():
        if name.startswith(LEGACY_EMPTY_PREFIX):
            entry = json.loads(value)
            pairs.add((entry["key"], entry["etag"]))
    return pairs


def loaded(table: Table, pairs: Iterable[Pair]) -> set[Pair]:
    """The subset of ``pairs`` whose rows ``table`` (as of its current snapshot) holds.

    Zero-row and quarantined files are not here: see :mod:`ingestion.outcomes`.

    Hazard: ``table`` must be the very object the following transaction is
    created from, so that the commit's snapshot check covers this read.
    """
    wanted = set(pairs)
    if not wanted:
        return set()
    index = index_for(table)
    assert isinstance(index, DataLedger)
    index.refresh(table)
    found = {pair for pair in wanted if index.holds(pair)}
    if any(name.startswith(LEGACY_EMPTY_PREFIX) for name in table.properties):
        found |= wanted & _legacy_empty_files(table)
    return found
