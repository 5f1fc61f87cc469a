"""Which bronze rows an incremental model has not read: the floor from Iceberg metadata (real SQLite catalog).

The dbt side (the floor inlined into silver_ecoride_sales, recorded by the
post-hook) is tested end to end in tests/integration/transformation/test_dbt_build.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.table import Table

from ingestion.catalog import open_catalog
from ingestion.datafiles import write_data_files
from ingestion.loader import BronzeLoader
from ingestion.maintenance import MaintenanceOptions, maintain
from ingestion.schema import INGESTED_AT
from ingestion.storage import LocalObjectStore
from lakehouse.settings import Settings
from warehouse import increments
from warehouse.increments import NO_NEW_ROWS, UNKNOWN, new_rows_floor, sequence_number

CSV = "sale_id,sale_date\nS{n},2024-01-01\n"


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    return settings


def _load(settings: Settings, n: int) -> Table:
    store = LocalObjectStore(settings.landing_dir)
    key = f"raw/ecoride/sales/s{n}.csv"
    store.put_bytes(key, CSV.format(n=n).encode())
    [outcome] = BronzeLoader(settings, store=store).load([store.stat(key)])
    assert outcome.outcome == "loaded"
    return _table(settings)


def _table(settings: Settings) -> Table:
    return open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))


def _stamps(table: Table, key: str) -> datetime:
    rows = table.scan(row_filter=f"_source_key == '{key}'").to_arrow()
    return pc.min(rows.column(INGESTED_AT)).as_py()


def _floor(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_no_commit_since_means_no_new_rows_and_a_new_file_gives_its_first_stamp(settings: Settings) -> None:
    first = _load(settings, 1)
    read_at = sequence_number(first)
    assert new_rows_floor(first, read_at) == NO_NEW_ROWS
    assert new_rows_floor(None, 0) == NO_NEW_ROWS  # no table yet

    second = _load(settings, 2)

    assert _floor(new_rows_floor(second, read_at)) == _stamps(second, "raw/ecoride/sales/s2.csv")
    assert _floor(new_rows_floor(second, 0)) == _stamps(second, "raw/ecoride/sales/s1.csv")  # never read: everything


def test_a_late_commit_stamped_before_what_was_read_is_still_new(settings: Settings) -> None:
    table = _load(settings, 1)
    _load(settings, 2)
    table = _table(settings)
    read_at = sequence_number(table)
    # A second writer stamped its batch an hour ago and commits only now.
    late = table.scan(row_filter="_source_key == 'raw/ecoride/sales/s1.csv'").to_arrow()
    stamp = datetime.now().astimezone() - timedelta(hours=1)
    late = late.set_column(late.schema.get_field_index(INGESTED_AT), INGESTED_AT,
                           pa.array([stamp] * late.num_rows, late.schema.field(INGESTED_AT).type))
    late = late.set_column(late.schema.get_field_index("_source_key"), "_source_key",
                           pa.array(["raw/ecoride/sales/late.csv"] * late.num_rows))
    files = write_data_files(table.metadata, table.io, late, uuid.uuid4(), itertools.count())
    with table.transaction() as txn, txn.update_snapshot().fast_append() as append:
        for data_file in files:
            append.append_data_file(data_file)

    assert _floor(new_rows_floor(_table(settings), read_at)) == stamp


def test_a_compaction_of_read_files_adds_nothing_new_but_one_of_unread_files_does(settings: Settings) -> None:
    for n in range(3):
        _load(settings, n)
    read_at = sequence_number(_table(settings))
    catalog = open_catalog(settings)

    maintain(catalog, settings.bronze_namespace, table="ecoride_sales", options=MaintenanceOptions())
    compacted = _table(settings)
    assert len(list(compacted.scan().plan_files())) == 1

    assert new_rows_floor(compacted, read_at) == NO_NEW_ROWS  # everything it rewrote was read
    # A reader that had read only the first file must read the others again.
    assert _floor(new_rows_floor(compacted, 1)) <= _stamps(compacted, "raw/ecoride/sales/s1.csv")


def test_publish_gives_each_recorded_reader_its_floor_and_a_recreated_table_the_unknown_floor(settings: Settings) -> None:
    first = _load(settings, 1)
    con = duckdb.connect()
    con.execute("attach ':memory:' as bronze")
    increments.publish(con, {"ecoride_sales": first, "chargenet_stations": None})
    assert con.execute(f"select * exclude (table_uuid) from {increments.SNAPSHOTS} order by 1").fetchall() == [
        ("chargenet_stations", 0), ("ecoride_sales", sequence_number(first))]
    con.execute(f"insert into {increments.STATE} select 'silver_ecoride_sales', bronze_table, table_uuid, "
                f"sequence_number, now() from {increments.SNAPSHOTS}")
    con.execute(f"insert into {increments.STATE} values ('silver_old', 'ecoride_sales', 'another-table', 1, now())")
    second = _load(settings, 2)

    increments.publish(con, {"ecoride_sales": second, "chargenet_stations": None})

    floors = dict(((uuid, after), floor) for uuid, after, floor in con.execute(
        f"select table_uuid, after_sequence, cast(min_ingested_at as varchar) from {increments.INCREMENTS} "
        "where bronze_table = 'ecoride_sales'").fetchall())
    own = str(second.metadata.table_uuid)
    assert _floor(floors[(own, sequence_number(first))]) == _stamps(second, "raw/ecoride/sales/s2.csv")
    assert floors[("another-table", 1)] == UNKNOWN


def test_files_listed_again_in_a_merged_manifest_are_still_new(settings: Settings) -> None:
    # ingestion/writer.py turns manifest merging on: a merging commit rewrites the
    # earlier commits' entries as EXISTING, with their own sequence numbers.
    first = _load(settings, 1)
    with first.transaction() as txn:
        txn.set_properties({"commit.manifest.min-count-to-merge": "2"})
    read_at = sequence_number(_table(settings))
    _load(settings, 2)
    merged = _load(settings, 3)
    assert len(merged.current_snapshot().manifests(merged.io)) == 1  # one manifest holds all three files

    assert _floor(new_rows_floor(merged, read_at)) == _stamps(merged, "raw/ecoride/sales/s2.csv")


def test_a_format_v1_table_always_gets_the_unknown_floor(settings: Settings) -> None:
    catalog = open_catalog(settings)
    catalog.create_namespace_if_not_exists("v1")
    schema = pa.schema([pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC"))])
    table = catalog.create_table(("v1", "t"), schema=schema, properties={"format-version": "1"})
    table.append(pa.table({INGESTED_AT: [datetime.now().astimezone()]}, schema=schema))
    table = catalog.load_table(("v1", "t"))

    assert new_rows_floor(table, sequence_number(table)) == UNKNOWN  # v1 sequence numbers are all 0
