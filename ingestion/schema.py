"""Iceberg schemas written compactly, and their one Arrow mapping.

Specs declare columns as ``columns(sale_id=STRING, sale_date=DATE, ...)`` with
``struct(...)`` and ``list_of(...)`` for nested JSON; :func:`columns` assigns
the field ids Iceberg needs (the catalog reassigns them on create anyway).

Every bronze column is optional: a value that does not fit its type becomes
null (the original goes to ``_rescued_data``), so no column can promise
non-null. The lineage columns close every table.

Arrow types come from :func:`arrow_type` only, so the pyiceberg writer, the
coercion and the Spark bulk path (via Arrow) all see the same physical types.
Plain ``string``/``list`` rather than pyiceberg's ``large_*`` types: Spark's
Arrow bridge in 3.5 does not read the large variants.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    PrimitiveType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
)

STRING = StringType()
INT = IntegerType()
LONG = LongType()
DOUBLE = DoubleType()
BOOLEAN = BooleanType()
DATE = DateType()
TIMESTAMPTZ = TimestamptzType()


def money(precision: int = 12) -> DecimalType:
    """USD amounts: two decimals, never a float."""
    return DecimalType(precision, 2)


@dataclass(frozen=True)
class _Struct:
    fields: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class _List:
    element: object


def struct(**fields: object) -> _Struct:
    """A nested object; keyword order is column order."""
    return _Struct(tuple(fields.items()))


def list_of(element: object) -> _List:
    """A JSON array of ``element`` (a primitive type or a ``struct``)."""
    return _List(element)


# Lineage columns, in this order, at the end of every bronze table.
SOURCE_KEY = "_source_key"
SOURCE_ETAG = "_source_etag"
INGESTED_AT = "_ingested_at"
RESCUED_DATA = "_rescued_data"
LINEAGE_COLUMNS: tuple[tuple[str, PrimitiveType], ...] = (
    (SOURCE_KEY, STRING),
    (SOURCE_ETAG, STRING),
    (INGESTED_AT, TIMESTAMPTZ),
    (RESCUED_DATA, STRING),
)
LINEAGE_NAMES = frozenset(name for name, _ in LINEAGE_COLUMNS)


def _compile(spec: object, ids: itertools.count[int]) -> IcebergType:
    if isinstance(spec, _Struct):
        return StructType(*(NestedField(next(ids), name, _compile(t, ids), required=False) for name, t in spec.fields))
    if isinstance(spec, _List):
        element_id = next(ids)
        return ListType(element_id, _compile(spec.element, ids), element_required=False)
    if isinstance(spec, IcebergType):
        return spec
    raise TypeError(f"not a column type: {spec!r}; use an Iceberg type, struct(...) or list_of(...)")


def columns(**cols: object) -> Schema:
    """Compile data columns plus the lineage columns into an Iceberg schema."""
    ids = itertools.count(1)
    fields = [NestedField(next(ids), name, _compile(t, ids), required=False) for name, t in cols.items()]
    fields += [NestedField(next(ids), name, t, required=False) for name, t in LINEAGE_COLUMNS]
    return Schema(*fields)


def arrow_type(t: IcebergType) -> pa.DataType:
    """The Arrow type every part of ingestion uses for an Iceberg type."""
    if isinstance(t, StructType):
        return pa.struct([pa.field(f.name, arrow_type(f.field_type)) for f in t.fields])
    if isinstance(t, ListType):
        return pa.list_(pa.field("element", arrow_type(t.element_type)))
    if isinstance(t, DecimalType):
        return pa.decimal128(t.precision, t.scale)
    simple: dict[type, pa.DataType] = {
        StringType: pa.string(),
        IntegerType: pa.int32(),
        LongType: pa.int64(),
        DoubleType: pa.float64(),
        BooleanType: pa.bool_(),
        DateType: pa.date32(),
        TimestamptzType: pa.timestamp("us", tz="UTC"),
        TimestampType: pa.timestamp("us"),
    }
    try:
        return simple[type(t)]
    except KeyError:
        raise TypeError(f"bronze does not support Iceberg type {t}; add it to ingestion.schema.arrow_type") from None


def arrow_schema(schema: Schema) -> pa.Schema:
    """Arrow schema of a whole table (data and lineage columns, table order)."""
    return pa.schema([pa.field(f.name, arrow_type(f.field_type)) for f in schema.fields])


def data_column_names(schema: Schema) -> list[str]:
    """Top-level columns other than the lineage columns, in table order."""
    return [f.name for f in schema.fields if f.name not in LINEAGE_NAMES]
