"""``lakehouse query`` runs DuckDB SQL over bronze (Iceberg), silver and gold by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings
from warehouse.dbt import duckdb_path, published_path
from warehouse.query import format_table, run_query


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    cat = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=tmp_path.as_uri())
    cat.create_namespace("bronze")
    data = pa.table({"sale_id": ["a", "b", "c"], "_source_key": ["raw/x.csv", "raw/x.csv", "raw/y.csv"]})
    cat.create_table(("bronze", "ecoride_sales"), schema=data.schema).append(data)
    return cat


def _gold_database(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema gold")
    con.execute(f"create table gold.answer as select {value} as value")
    con.close()


def test_a_query_counts_rows_of_a_bronze_table(settings: Settings, catalog: SqlCatalog) -> None:
    result = run_query(settings, "select _source_key, count(*) as n from bronze.ecoride_sales group by 1 order by 1", catalog=catalog)
    assert result.to_pylist() == [{"_source_key": "raw/x.csv", "n": 2}, {"_source_key": "raw/y.csv", "n": 1}]


def test_a_bronze_table_not_created_yet_is_empty_with_its_declared_columns(settings: Settings, catalog: SqlCatalog) -> None:
    result = run_query(settings, "select * from bronze.chargenet_stations", catalog=catalog)
    assert result.num_rows == 0
    assert {"station_id", "location", "_source_key", "_ingested_at"} <= set(result.column_names)


def test_gold_is_read_from_the_dbt_database(settings: Settings, catalog: SqlCatalog) -> None:
    _gold_database(duckdb_path(settings), 42)
    assert run_query(settings, "select value from gold.answer", catalog=catalog).to_pylist() == [{"value": 42}]


def test_while_dbt_holds_the_database_the_published_copy_answers(settings: Settings, catalog: SqlCatalog) -> None:
    _gold_database(published_path(settings), 1)
    _gold_database(duckdb_path(settings), 2)  # newer than the copy
    # Another process holds the write lock, as a running dbt does.
    holder = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)"
    writer = subprocess.Popen([sys.executable, "-c", holder, str(duckdb_path(settings))], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        assert run_query(settings, "select value from gold.answer", catalog=catalog).to_pylist() == [{"value": 1}]
    finally:
        writer.kill()
        writer.communicate()
    assert run_query(settings, "select value from gold.answer", catalog=catalog).to_pylist() == [{"value": 2}]


def test_bad_sql_is_a_one_line_error(settings: Settings, catalog: SqlCatalog) -> None:
    with pytest.raises(LakehouseError, match="query failed") as failure:
        run_query(settings, "select nope from bronze.ecoride_sales", catalog=catalog)
    assert "\n" not in str(failure.value)


def test_format_table_aligns_columns_and_says_what_it_cut() -> None:
    text = format_table(pa.table({"n": [1, 22, None]}), max_rows=2)
    assert text.splitlines() == ["n ", "--", "1 ", "22", "... 1 more rows"]
