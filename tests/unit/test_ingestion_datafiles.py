"""Our Arrow partition transforms agree with pyiceberg's reference ones; data files land in their partitions."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, YearTransform
from pyiceberg.types import DateType, TimestamptzType
from pyiceberg.utils.datetime import date_to_days, datetime_to_micros

from ingestion.datafiles import transform_array, write_data_files
from ingestion.schema import arrow_schema
from ingestion.specs import SPECS_BY_NAME

DATES = [date(1969, 12, 31), date(1970, 1, 1), date(2024, 2, 29), date(2024, 12, 31), None]
TIMES = [datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc), datetime(2024, 3, 1, 0, 30, tzinfo=timezone.utc), None]


@pytest.mark.parametrize("transform", [YearTransform(), MonthTransform(), DayTransform()], ids=str)
def test_temporal_transforms_match_pyiceberg(transform) -> None:  # noqa: ANN001
    on_dates = transform.transform(DateType())
    expected = [None if d is None else on_dates(date_to_days(d)) for d in DATES]
    assert transform_array(transform, pa.array(DATES, pa.date32())).to_pylist() == expected
    on_times = transform.transform(TimestamptzType())
    expected = [None if t is None else on_times(datetime_to_micros(t)) for t in TIMES]
    assert transform_array(transform, pa.array(TIMES, pa.timestamp("us", tz="UTC"))).to_pylist() == expected


def test_identity_is_the_value() -> None:
    values = pa.array(["specs", None])
    assert transform_array(IdentityTransform(), values) is values


def test_rows_are_written_to_one_file_per_partition(tmp_path: Path) -> None:
    spec = SPECS_BY_NAME["ecoride_sales"]
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=tmp_path.as_uri())
    catalog.create_namespace("ns")
    table = catalog.create_table(("ns", "sales"), spec.schema, partition_spec=spec.partition_spec())
    rows = pa.Table.from_pylist(
        [{"sale_id": str(i), "sale_date": d} for i, d in enumerate([date(2024, 1, 5), date(2024, 1, 9), date(2024, 2, 1), None])],
        schema=arrow_schema(table.schema()),
    )
    files = write_data_files(table.metadata, table.io, rows, uuid.uuid4(), itertools.count())
    assert sorted((f.partition[0], f.record_count) for f in files if f.partition[0] is not None) == [(648, 2), (649, 1)]
    assert [f.record_count for f in files if f.partition[0] is None] == [1]
