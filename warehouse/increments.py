"""Which bronze rows an incremental silver model has not read yet, from Iceberg metadata.

An incremental silver model reads the bronze rows with ``_ingested_at`` at or
after a *floor*. The floor used to be the newest ``_ingested_at`` the model
holds minus a lookback (``var('lookback_hours')``, for batches that commit out
of order). That re-read every row stamped within the lookback: after a bulk
load of 9 M sales rows, the next file's run re-read and re-merged all 9 M
(and ran out of memory at 512 MB).

Now each model remembers, per bronze table, the table's sequence number it
last read (``_lakehouse.bronze_consumed`` in the DuckDB file, written by a
post-hook after the model's transaction commits). The rows it has not read are
in the data files added since: manifests carry the sequence number of the
commit that added them and every data file carries exact lower bounds of
``_ingested_at``, so the floor is the smallest lower bound among those files —
metadata only, and only the manifests added since (immutable, one per commit).
The lookback stays as a second bound (the floor is the larger of the two), so
the guarantee is never weaker than before:

* a commit that landed after the recorded sequence number is read, however
  late its rows were stamped (within the lookback) — the out-of-order case;
* a compaction (``replace`` snapshot) adds no rows, but its files may hold
  rows not read yet: they are skipped only when the compaction's parent
  snapshot was already read (SQLite keeps that history). Otherwise — Nessie's
  REST API shows only the current snapshot — they count as new, and the next
  run re-reads from their oldest row, bounded below by the lookback floor;
* no record (first incremental run, DuckDB file replaced, format v1 table): the
  lookback floor alone, as before.

Recording the sequence number the bronze view was pinned to (embedded) or a
lower one (Nessie: pyiceberg loads the tables *before* DuckDB attaches the
catalog, and a table DuckDB did not find counts as absent, so the record is
never ahead of what the live views read) can only make the next run re-read
rows, which the merge by business key absorbs; it can never skip one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone

import duckdb
from pyiceberg.conversions import from_bytes
from pyiceberg.manifest import ManifestContent
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation
from pyiceberg.types import TimestamptzType

from ingestion.schema import INGESTED_AT

log = logging.getLogger(__name__)

STATE = "_lakehouse.bronze_consumed"  # (model, bronze_table, table_uuid, sequence_number, consumed_at), DuckDB file
SNAPSHOTS = "bronze.main.lakehouse_snapshots"  # (bronze_table, table_uuid, sequence_number): what this connection reads
INCREMENTS = "bronze.main.lakehouse_increments"  # (bronze_table, table_uuid, after_sequence, min_ingested_at)

NO_NEW_ROWS = "infinity"  # floor when nothing was added: the model reads no bronze row
UNKNOWN = "-infinity"  # floor when a new file has no bounds: the lookback floor decides


def sequence_number(table: Table | None) -> int:
    """The sequence number of the table's current snapshot (0: no snapshot, no table)."""
    snapshot = table.current_snapshot() if table is not None else None
    return (snapshot.sequence_number or 0) if snapshot is not None else 0


def new_rows_floor(table: Table | None, after_sequence: int) -> str:
    """The smallest ``_ingested_at`` of rows committed after ``after_sequence``, as SQL timestamp text.

    Cost: the manifest list plus the manifests added after ``after_sequence``.
    """
    if table is not None and table.metadata.format_version < 2:
        return UNKNOWN  # v1 has no sequence numbers: every snapshot's is 0
    if table is None or sequence_number(table) <= after_sequence:
        return NO_NEW_ROWS
    field_id = table.schema().find_field(INGESTED_AT).field_id
    consumed_compactions = _compactions_of_consumed_files(table, after_sequence)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    floor: int | None = None
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA or manifest.sequence_number <= after_sequence:
            continue
        # Every live entry, not only ADDED ones: a merged manifest (commit.manifest-merge,
        # set by ingestion/writer.py) lists the files of earlier commits as EXISTING,
        # with the sequence number of the commit that added them.
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if (entry.file_sequence_number or 0) <= after_sequence or entry.snapshot_id in consumed_compactions:
                continue
            lower = (entry.data_file.lower_bounds or {}).get(field_id)
            if lower is None:
                return UNKNOWN
            micros = from_bytes(TimestamptzType(), lower)
            floor = micros if floor is None else min(floor, micros)
    if floor is None:
        return NO_NEW_ROWS
    return _timestamp_text(floor)


def _compactions_of_consumed_files(table: Table, after_sequence: int) -> set[int]:
    """The ``replace`` snapshots whose parent is at or before ``after_sequence``.

    A compaction rewrites files its parent snapshot holds, so when the parent
    was already read every row it rewrote was read too. Where the parent is not
    in the metadata (expired; Nessie shows only the current snapshot) the
    compaction's files count as new: read again, never skipped.
    """
    snapshots = {s.snapshot_id: s for s in table.metadata.snapshots}
    found = set()
    for snapshot in snapshots.values():
        if snapshot.summary is None or snapshot.summary.operation != Operation.REPLACE:
            continue
        parent = snapshots.get(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id is not None else None
        if parent is not None and (parent.sequence_number or 0) <= after_sequence:
            found.add(snapshot.snapshot_id)
    return found


def _timestamp_text(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=fraction).isoformat(sep=" ")


def publish(con: duckdb.DuckDBPyConnection, tables: Mapping[str, Table | None]) -> None:
    """Give a dbt connection the sequence numbers it reads and the floor after each recorded one.

    ``tables``: the bronze tables by name, as the connection's bronze views read
    them. A record of another table of the same name (dropped and created
    again: its sequence numbers start over) gets the UNKNOWN floor.
    """
    con.execute("create schema if not exists _lakehouse")
    con.execute(f"create table if not exists {STATE} (model varchar, bronze_table varchar, table_uuid varchar, "
                "sequence_number bigint, consumed_at timestamptz, primary key (model, bronze_table))")
    consumed = con.execute(f"select distinct bronze_table, table_uuid, sequence_number from {STATE}").fetchall()
    con.execute(f"create or replace table {SNAPSHOTS} (bronze_table varchar, table_uuid varchar, sequence_number bigint)")
    con.executemany(f"insert into {SNAPSHOTS} values (?, ?, ?)",
                    [(name, _uuid(table), sequence_number(table)) for name, table in tables.items()])
    con.execute(f"create or replace table {INCREMENTS} "
                "(bronze_table varchar, table_uuid varchar, after_sequence bigint, min_ingested_at timestamptz)")
    rows = []
    for name, uuid, after in consumed:
        if name in tables:
            table = tables[name]
            floor = new_rows_floor(table, after) if uuid == _uuid(table) else UNKNOWN
            rows.append((name, uuid, after, floor))
    if rows:
        con.executemany(f"insert into {INCREMENTS} values (?, ?, ?, cast(? as timestamptz))", rows)
    log.debug("bronze increments: %s", rows)


def _uuid(table: Table | None) -> str | None:
    return str(table.metadata.table_uuid) if table is not None else None
