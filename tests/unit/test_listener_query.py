"""``lakehouse query`` runs DuckDB SQL over Iceberg tables named namespace.table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings
from listener.query import format_table, referenced_tables, run_query


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    cat = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=tmp_path.as_uri())
    cat.create_namespace("bronze")
    data = pa.table({"sale_id": ["a", "b", "c"], "_source_key": ["raw/x.csv", "raw/x.csv", "raw/y.csv"]})
    cat.create_table(("bronze", "ecoride_sales"), schema=data.schema).append(data)
    return cat


def test_referenced_tables_are_the_existing_namespace_dot_table_names(catalog: SqlCatalog) -> None:
    sql = 'select s.sale_id from bronze.ecoride_sales s join bronze.nope n on true join "bronze"."ecoride_sales" x on true'
    assert referenced_tables(sql, catalog) == [("bronze", "ecoride_sales")]


def test_a_query_counts_rows_of_a_bronze_table(catalog: SqlCatalog) -> None:
    result = run_query(Settings(), "select _source_key, count(*) as n from bronze.ecoride_sales group by 1 order by 1", catalog=catalog)
    assert result.to_pylist() == [{"_source_key": "raw/x.csv", "n": 2}, {"_source_key": "raw/y.csv", "n": 1}]


def test_bad_sql_is_a_one_line_error(catalog: SqlCatalog) -> None:
    with pytest.raises(LakehouseError, match="query failed"):
        run_query(Settings(), "select nope from bronze.ecoride_sales", catalog=catalog)


def test_format_table_aligns_columns_and_says_what_it_cut() -> None:
    text = format_table(pa.table({"n": [1, 22, None]}), max_rows=2)
    assert text.splitlines() == ["n ", "--", "1 ", "22", "... 1 more rows"]
