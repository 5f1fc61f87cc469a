"""Dagster's SQLite event log, with its database connections kept open between events.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine and SQLite
connection for every statement batch: about five per event (the run's database,
the cross-run index, the asset-check tables, a ``has_table`` probe). A sensor run
of the sample records ~145 events (materializations, one output and one check
evaluation per dbt test), and that bookkeeping cost 3.2 s of a 4.9 s run: more
than dbt's own work, which the run waits on. This class keeps one connection per
database file (the index, and the few most recent runs') and remembers which
tables exist. Its connections commit with ``PRAGMA synchronous=NORMAL``, SQLite's
recommended setting in WAL mode (Dagster's databases are in WAL mode): no fsync per
commit; a crashed process loses nothing, a power cut may lose the last events
written. Nothing else changes: the same files, schema and transactions, so Dagster's
own class can read and write the same folder.

Safe because the base class already serialises every connection of a process
behind one lock (``_db_lock``), so one connection per file is never shared by two
threads at once; and a forked child never reuses its parent's connections. A write
to a run's database touches its file, as closing Dagster's connections did, so the
UI's live run view (which watches the file) keeps following the run.

``dagster run wipe`` in another process deletes the runs' files under the open
connections of a running webserver or daemon: their writes to those runs are lost
until they restart (Dagster's class would reopen the deleted path).
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# Runs' databases kept open besides the index: the runs being written or watched now.
OPEN_RUN_DATABASES = 8
# A forked child's copies of its parent's engines (see PooledSqliteEventLogStorage._engine).
_INHERITED: list[OrderedDict[str, Engine]] = []


def _commit_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses one connection per database file (see the module)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._existing_tables: set[str] = set()
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,  # type: ignore[override]
                          config_value: Mapping[str, Any]) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The open engine of ``shard``'s database (the caller holds ``_db_lock``)."""
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours to use
            _INHERITED.append(self._engines)  # nor to close: kept referenced, never touched (SQLite's advice)
            self._engines = OrderedDict()
            self._pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,  # one DBAPI connection, reused; _db_lock keeps it to one thread at a time
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _commit_without_fsync)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        runs_open = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in runs_open[:-OPEN_RUN_DATABASES]:
            self._engines.pop(old).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes = sqlite.total_changes  # type: ignore[union-attr]
                with conn.begin():
                    yield conn
                wrote = sqlite.total_changes != changes  # type: ignore[union-attr]
            if wrote and shard != INDEX_SHARD_NAME:
                self._signal_watchers(shard)

    def _signal_watchers(self, shard: str) -> None:
        """Touch the run's database file: what Dagster's live run view waits for.

        The UI follows a run by watching ``<run_id>.db`` for modification (watchdog,
        ``SqliteEventLogStorageWatchdog``). In WAL mode a write changes only the
        ``-wal`` file; the ``.db`` changed when Dagster's class closed its connection
        (the last connection's close checkpoints the log). Open connections never
        checkpoint that way, so each write marks the file itself (only writes: a
        watcher's read must not wake it again).
        """
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path_for_shard(shard))

    def has_table(self, table_name: str) -> bool:
        # Asked before every asset-check event; a table, once there, stays (Dagster only adds them).
        # Not through _connect: callers may hold _db_lock already (the base class opens its own engine too).
        if table_name in self._existing_tables:
            return True
        exists = super().has_table(table_name)
        if exists:
            self._existing_tables.add(table_name)
        return exists

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
            self._existing_tables.clear()

    def wipe(self) -> None:
        self._close_engines()  # wipe deletes the runs' files: never write through a deleted file's connection
        super().wipe()

    def upgrade(self) -> None:
        self._close_engines()  # the schema changes under the open connections
        super().upgrade()
        self._close_engines()

    def dispose(self) -> None:
        super().dispose()
        self._close_engines()
