"""The instance's event log keeps its SQLite connections (orchestration/event_log.py).

Real Dagster runs (an asset with a check) recorded in a real instance made from
the lakehouse's ``dagster.yaml``; read back with Dagster's own SQLite storage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage
from sqlalchemy import event
from sqlalchemy.pool import Pool

from lakehouse.settings import Settings
from orchestration.event_log import OPEN_RUN_DATABASES, PooledSqliteEventLogStorage
from orchestration.instance import dagster_home


@dg.asset
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=numbers)
def numbers_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(assets=[numbers], asset_checks=[numbers_positive],
                     jobs=[dg.define_asset_job("numbers_job")]).resolve_job_def("numbers_job")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return dagster_home(Settings(state_dir=tmp_path / "state"))


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def _run(instance: dg.DagsterInstance) -> str:
    result = JOB.execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def _open_databases(folder: Path) -> int:
    """SQLite files under ``folder`` this process has open now (SQLite may hold a file twice: count files)."""
    fds = Path("/proc/self/fd")
    targets = {os.path.realpath(fds / fd) for fd in os.listdir(fds)}
    return sum(1 for t in targets if t.startswith(str(folder) + os.sep) and t.endswith(".db"))


def test_the_instance_records_runs_that_dagsters_own_storage_reads(instance: dg.DagsterInstance, home: Path) -> None:
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    run_id = _run(instance)
    ours = [r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records]
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    theirs = [r.event_log_entry.dagster_event_type for r in plain.get_records_for_run(run_id).records]
    assert theirs == ours and dg.DagsterEventType.ASSET_CHECK_EVALUATION in ours
    materialization = plain.get_latest_materialization_events([dg.AssetKey("numbers")])[dg.AssetKey("numbers")]
    assert materialization is not None and materialization.run_id == run_id
    check = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_positive"), limit=1)
    assert check[0].run_id == run_id and check[0].status.value == "SUCCEEDED"
    plain.dispose()


def test_events_reuse_connections_instead_of_opening_one_per_statement(instance: dg.DagsterInstance, home: Path) -> None:
    _run(instance)  # the index and the asset tables exist now
    opened: list[str] = []
    event_log = str(home / "history" / "runs") + os.sep

    def count(dbapi_connection: Any, _record: object) -> None:
        (_, _, path), *_ = dbapi_connection.execute("pragma database_list").fetchall()
        if path.startswith(event_log):  # the event log's databases (not runs.db, the run storage)
            opened.append(path)

    event.listen(Pool, "connect", count)
    try:
        run_id = _run(instance)
    finally:
        event.remove(Pool, "connect", count)
    events = len(instance.get_records_for_run(run_id).records)
    # Dagster's own storage opens ~5 connections per event (here: >100); ours one per new database file.
    assert events > 15 and len(opened) <= 2, (events, opened)  # the new run's file (+ one has_table probe)


def test_open_databases_stay_few_however_many_runs(instance: dg.DagsterInstance, home: Path) -> None:
    for _ in range(OPEN_RUN_DATABASES + 4):
        _run(instance)
    assert _open_databases(home / "history" / "runs") <= OPEN_RUN_DATABASES + 1  # the runs' latest few + the index


def test_after_a_wipe_new_runs_are_recorded(instance: dg.DagsterInstance) -> None:
    first = _run(instance)
    instance.wipe()  # deletes the runs' files under the open connections
    assert instance.get_records_for_run(first).records == []
    second = _run(instance)
    assert len(instance.get_records_for_run(second).records) > 15


def test_a_watcher_in_another_process_sees_each_new_event(home: Path) -> None:
    """The UI's live run view (the webserver's storage watching the run's file) follows a run being written."""
    import logging
    import queue
    import time

    from dagster._core.events.log import EventLogEntry

    folder = str(home / "history" / "runs")
    writer, webserver = PooledSqliteEventLogStorage(folder), PooledSqliteEventLogStorage(folder)

    def entry(message: str) -> EventLogEntry:
        return EventLogEntry(error_info=None, level=logging.INFO, user_message=message, run_id="run-1",
                             timestamp=time.time())

    seen: queue.Queue[str] = queue.Queue()
    try:
        writer.store_event(entry("first"))  # the run's database exists, and both processes have it open
        assert [r.event_log_entry.user_message for r in webserver.get_records_for_run("run-1").records] == ["first"]
        webserver.watch("run-1", None, lambda event, _cursor: seen.put(event.user_message))
        time.sleep(0.5)  # the observer thread is up
        for message in ("second", "third"):
            writer.store_event(entry(message))
            received = set()
            while message not in received:
                received.add(seen.get(timeout=10))  # queue.Empty: the watcher never woke up
    finally:
        webserver.dispose()
        writer.dispose()
