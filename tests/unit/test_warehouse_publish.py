"""``warehouse.dbt.publish``: the copy ``lakehouse query`` reads while dbt writes (real DuckDB files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lakehouse.settings import Settings
from warehouse.dbt import TransformError, duckdb_path, publish, published_path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).fetchall()


def _build(path: Path, script: str) -> None:
    """Run ``script`` against the database in another process, as dbt does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = f"import duckdb, os; con = duckdb.connect({str(path)!r}); {script}"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nothing_to_publish_before_dbt_built_the_database(settings: Settings) -> None:
    assert publish(settings) is None
    assert not published_path(settings).exists()


def test_the_copy_answers_as_the_live_database_and_replaces_the_last_one(settings: Settings) -> None:
    live = duckdb_path(settings)
    _build(live, "con.execute('create schema gold; create table gold.t as select range as n from range(1000); "
                 "create view gold.v as select sum(n) as total from gold.t'); con.close()")
    assert publish(settings) == published_path(settings)
    assert _rows(published_path(settings), "select total from gold.v") == [(499500,)]
    _build(live, "con.execute('insert into gold.t values (1000)'); con.close()")
    publish(settings)
    assert _rows(published_path(settings), "select total from gold.v") == [(500500,)]
    assert [p.name for p in published_path(settings).parent.iterdir() if p.name.endswith(".partial")] == []


def test_changes_still_in_the_write_ahead_log_are_published(settings: Settings) -> None:
    """A writer killed before its checkpoint leaves them in ``.wal``: a byte copy of the file would lose them."""
    live = duckdb_path(settings)
    _build(live, "con.execute('create table t as select 1 as n'); con.execute('checkpoint'); "
                 "con.execute(\"set checkpoint_threshold = '1GB'\"); con.execute('insert into t values (2)'); "
                 "os._exit(0)")
    assert live.with_name(live.name + ".wal").exists()
    publish(settings)
    assert _rows(published_path(settings), "select n from t order by n") == [(1,), (2,)]


def test_publishing_while_dbt_writes_is_a_clear_error(settings: Settings) -> None:
    live = duckdb_path(settings)
    _build(live, "con.execute('create table t as select 1 as n'); con.close()")
    holder = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"
    writer = subprocess.Popen([sys.executable, "-c", holder, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        with pytest.raises(TransformError, match="while another process writes it"):
            publish(settings)
    finally:
        writer.kill()
        writer.communicate()
    assert not published_path(settings).exists()


def test_two_publishes_at_once_both_finish_with_a_whole_copy(settings: Settings) -> None:
    """A `lakehouse transform` beside a Dagster run: each has its own temporary file."""
    from concurrent.futures import ThreadPoolExecutor

    live = duckdb_path(settings)
    _build(live, "con.execute('create table t as select range as n from range(2000000)'); con.close()")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: publish(settings), range(6)))
    assert results == [published_path(settings)] * 6
    assert _rows(published_path(settings), "select count(*) from t") == [(2000000,)]
    assert [p.name for p in published_path(settings).parent.iterdir() if p.name.endswith(".partial")] == []
