"""On the native stack silver is Iceberg tables in Nessie that any Iceberg client reads."""

from __future__ import annotations

import pytest

from tests.integration.transformation.conftest import (
    SILVER, Built, assert_the_incremental_floor_is_the_new_files_first_stamp, table_uuids,
)

pytestmark = pytest.mark.integration


def test_dbt_build_on_nessie_writes_silver_that_pyiceberg_reads_back(nessie_build: Built) -> None:
    namespace = nessie_build.settings.silver_namespace
    tables = {identifier[-1] for identifier in nessie_build.catalog.list_tables(namespace)}
    assert tables == set(SILVER)  # and no __dbt_tmp / __dbt_backup left by the full refresh
    for table in ("ecoride_sales", "chargenet_charging_sessions", "rejected_rows"):
        read_back = nessie_build.catalog.load_table((namespace, table)).scan().to_arrow()
        assert read_back.num_rows == len(nessie_build.silver_full_refresh[table]) > 0


def test_gold_on_nessie_reads_the_silver_iceberg_tables(nessie_build: Built) -> None:
    [count] = nessie_build.query("select count(*) as n from gold.sales_monthly")
    assert count["n"] == len(nessie_build.gold_after["sales_monthly"]) > 0
    [silver] = nessie_build.query("select count(*) as n from silver.ecoride_sales")
    assert silver["n"] == len(nessie_build.silver_full_refresh["ecoride_sales"])


def test_full_refresh_on_nessie_recreates_every_silver_table(nessie_build: Built) -> None:
    """`dbt build --full-refresh` (transformation/macros/iceberg.sql) built new Iceberg tables, swapped in."""
    before = nessie_build.silver_table_uuids
    after = table_uuids(nessie_build.catalog, nessie_build.settings.silver_namespace)
    assert before.keys() == after.keys() == set(SILVER)
    assert all(after[t] != before[t] for t in SILVER), "a full refresh creates each table anew"


def test_incremental_silver_on_nessie_equals_a_full_refresh(nessie_build: Built) -> None:
    for table in SILVER:
        assert nessie_build.silver_incremental[table], table
        assert nessie_build.silver_incremental[table] == nessie_build.silver_full_refresh[table], table


def test_an_incremental_run_on_nessie_reads_only_the_bronze_rows_committed_since_the_last_one(nessie_build: Built) -> None:
    assert_the_incremental_floor_is_the_new_files_first_stamp(nessie_build)
