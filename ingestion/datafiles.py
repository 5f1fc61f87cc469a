"""Arrow tables to Iceberg data files (not yet committed), partitioned by the table's spec.

pyiceberg's own ``_dataframe_to_data_files`` computes temporal partition
values with the optional Rust package ``pyiceberg-core``; without it a write
to a table partitioned by ``month(...)`` fails. The transforms bronze uses
(identity, year, month, day) are simple Arrow arithmetic, so they are
computed here and only the file writing is left to pyiceberg's ``write_file``.

Hazard: this uses pyiceberg's writer internals (``write_file``, ``WriteTask``,
``bin_pack_arrow_table``), which are stable in 0.10-0.12 but not public API;
``tests/unit/test_ingestion_datafiles.py`` pins their behaviour.
"""

from __future__ import annotations

import functools
import itertools
import operator
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import bin_pack_arrow_table, pyarrow_to_schema, write_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionField, PartitionFieldValue, PartitionKey
from pyiceberg.schema import Schema
from pyiceberg.table import TableProperties, WriteTask
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, Transform, YearTransform
from pyiceberg.utils.properties import property_as_int


def transform_array(transform: Transform, values: pa.Array) -> pa.Array:
    """Iceberg partition values of a date/timestamp/any column, as Iceberg stores them."""
    if isinstance(transform, IdentityTransform):
        return values
    if isinstance(transform, DayTransform):
        days = values if pa.types.is_date(values.type) else values.cast(pa.date32())
        return days.cast(pa.int32())
    years = pc.subtract(pc.year(values), 1970)
    if isinstance(transform, YearTransform):
        return years.cast(pa.int32())
    if isinstance(transform, MonthTransform):
        return pc.add(pc.multiply(years, 12), pc.subtract(pc.month(values), 1)).cast(pa.int32())
    raise NotImplementedError(f"partition transform {transform} is not supported by bronze; use identity/year/month/day")


def _partitions(metadata: TableMetadata, table: pa.Table) -> Iterator[tuple[PartitionKey | None, pa.Table]]:
    spec, schema = metadata.spec(), metadata.schema()
    if spec.is_unpartitioned():
        yield None, table
        return
    names = [f"_partition_{i}" for i in range(len(spec.fields))]
    fields: list[PartitionField] = list(spec.fields)
    keyed = table
    for name, field in zip(names, fields):
        source = schema.find_column_name(field.source_id)
        keyed = keyed.append_column(name, transform_array(field.transform, table.column(source).combine_chunks()))
    for unique in keyed.select(names).group_by(names).aggregate([]).to_pylist():
        conditions = [pc.field(n) == unique[n] if unique[n] is not None else pc.field(n).is_null() for n in names]
        part = keyed.filter(functools.reduce(operator.and_, conditions)).drop_columns(names)
        # No combine_chunks() here (pyiceberg does one): it would copy the batch a second time.
        key = PartitionKey(
            field_values=[PartitionFieldValue(field=f, value=unique[n]) for f, n in zip(fields, names)],
            partition_spec=spec,
            schema=schema,
        )
        yield key, part


def task_schema_of(metadata: TableMetadata, arrow: pa.Schema) -> Schema:
    """The Iceberg schema pyiceberg writes ``arrow`` with (field ids by the table's name mapping)."""
    return pyarrow_to_schema(arrow, name_mapping=metadata.schema().name_mapping, format_version=metadata.format_version)


def write_data_files(metadata: TableMetadata, io: FileIO, table: pa.Table, write_uuid: uuid.UUID,
                     counter: itertools.count[int], task_schema: Schema | None = None) -> list[DataFile]:
    """Write ``table`` (in the table schema's column names) as data files; return their descriptions.

    ``task_schema``: :func:`task_schema_of` for ``table.schema``, when the caller keeps it (it costs
    about 2 ms, as much as writing a small file's rows).
    """
    target = property_as_int(metadata.properties, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
                             TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT)
    if task_schema is None:
        task_schema = task_schema_of(metadata, table.schema)
    tasks = (
        WriteTask(write_uuid=write_uuid, task_id=next(counter), record_batches=batches, schema=task_schema,
                  partition_key=key)
        for key, part in _partitions(metadata, table)
        for batches in bin_pack_arrow_table(part, target or TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT)
    )
    return list(write_file(io=io, table_metadata=metadata, tasks=tasks))
