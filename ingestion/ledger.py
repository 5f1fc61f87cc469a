"""The ledger of loaded files: which (key, etag) pairs a bronze table already holds.

There is no separate ledger table, because Iceberg commits one table at a
time and a second table could disagree with the data after a crash. Instead
the ledger lives in the bronze table itself and so is always committed
atomically with the rows:

* a file with rows is recorded by its rows' ``_source_key``/``_source_etag``
  lineage columns. They survive snapshot expiry and compaction (snapshot
  summaries would not). The check is a scan with ``_source_key IN (...)``
  projected to the two columns; the tables keep *full* (not truncated)
  column bounds for both columns, so manifest statistics prune data files
  that cannot hold the keys and the check stays cheap as the table grows;
* a file with no rows (a header-only CSV, ``[]``) leaves no row, so it is
  recorded as a table property ``lakehouse.ledger.empty.<hash>`` set in the
  same transaction. Properties live in table metadata, which expiry keeps.

Hazards: deleting rows of a file (e.g. a GDPR delete of all its rows)
removes it from the ledger, and re-sending it then loads it again. And the
check is only as good as the commit that follows it: the tables are created
with ``commit.retry.num-retries=0`` because pyiceberg (and Iceberg Java)
would otherwise rebase a conflicting append onto a newer snapshot without
re-running this check; :class:`ingestion.loader.BronzeLoader` re-checks and
retries itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.table import Table

from ingestion.schema import SOURCE_ETAG, SOURCE_KEY

EMPTY_FILE_PREFIX = "lakehouse.ledger.empty."
# Above this many keys one projected scan of the two columns beats a huge IN list
# (pyiceberg stops using column bounds for IN lists over 200 values anyway).
IN_LIST_LIMIT = 200

Pair = tuple[str, str]


def empty_file_property(key: str, etag: str) -> tuple[str, str]:
    """Property name and value recording that ``(key, etag)`` loaded with zero rows."""
    digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:24]
    return EMPTY_FILE_PREFIX + digest, json.dumps({"key": key, "etag": etag})


def _empty_files(table: Table) -> set[Pair]:
    pairs = set()
    for name, value in table.properties.items():
        if name.startswith(EMPTY_FILE_PREFIX):
            entry = json.loads(value)
            pairs.add((entry["key"], entry["etag"]))
    return pairs


def _pairs_in_rows(table: Table, row_filter: BooleanExpression) -> set[Pair]:
    if table.current_snapshot() is None:
        return set()
    scan = table.scan(row_filter=row_filter, selected_fields=(SOURCE_KEY, SOURCE_ETAG))
    found: set[Pair] = set()
    for batch in scan.to_arrow_batch_reader():
        # De-duplicate in Arrow first: a file has thousands of rows but one pair.
        unique = pa.Table.from_batches([batch]).group_by([SOURCE_KEY, SOURCE_ETAG]).aggregate([])
        found.update(zip(unique.column(SOURCE_KEY).to_pylist(), unique.column(SOURCE_ETAG).to_pylist()))
    return found


def loaded(table: Table, pairs: Iterable[Pair]) -> set[Pair]:
    """The subset of ``pairs`` that ``table`` (as of its current snapshot) already holds.

    Hazard: ``table`` must be the very object the following transaction is
    created from, so that the commit's snapshot check covers this read.
    """
    wanted = set(pairs)
    if not wanted:
        return set()
    keys = {key for key, _ in wanted}
    row_filter = In(SOURCE_KEY, keys) if len(keys) <= IN_LIST_LIMIT else AlwaysTrue()
    present = _pairs_in_rows(table, row_filter) | _empty_files(table)
    return wanted & present
