"""One file, parsed and typed: the part both engines share.

The pyiceberg loader and the PySpark bulk loader both turn a file into Arrow
record batches here, so the same file gives the same rows whichever engine
writes it (only ``_ingested_at`` differs).

New columns are discovered batch by batch (a JSON key may first appear in the
millionth record); the caller's ``add_columns`` evolves the schema and returns
it, and every later batch follows the new schema. What one file may add is
capped by its spec's ``limits.max_new_columns``: the check runs before
``add_columns`` is called, so a file beyond the cap (a 5,000-field header,
JSON whose keys are data) is refused with ``schema_limit`` and its batch adds
nothing. A file that crosses the cap only in a later batch has already added
columns for its earlier ones: the loader then restarts the group without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime

import pyarrow as pa
from pyiceberg.schema import Schema

from lakehouse import reasons
from lakehouse.errors import PermanentError
from ingestion.coerce import Coerced, coerce_records, coerce_text, record_columns
from ingestion.parsers import RawBatch, Records, TextColumns, parse
from ingestion.schema import (
    INGESTED_AT,
    LINEAGE_NAMES,
    RESCUED_DATA,
    SOURCE_ETAG,
    SOURCE_KEY,
    arrow_schema,
    data_column_names,
)
from ingestion.source import SourceObject
from ingestion.specs import DatasetSpec

AddColumns = Callable[[list[str]], Schema]


def _raw_columns(raw: RawBatch, schema: Schema) -> list[str]:
    if isinstance(raw, TextColumns):
        return list(raw.table.column_names)
    return record_columns(raw.values, schema)


def _coerce(raw: RawBatch, schema: Schema, declared: list[str]) -> Coerced:
    if isinstance(raw, TextColumns):
        return coerce_text(raw.table, raw.malformed, schema, declared)
    assert isinstance(raw, Records)
    return coerce_records(raw.values, schema, declared)


class FileReader:
    """Typed batches of one file, plus its row counts once iterated.

    Hazard: iterate once. The counts are only final after the iterator is
    exhausted; :meth:`check` then raises if nothing in the file was usable.
    """

    def __init__(self, spec: DatasetSpec, obj: SourceObject, ingested_at: datetime) -> None:
        self.spec = spec
        self.obj = obj
        self.ingested_at = ingested_at
        self.rows = 0
        self.valid_rows = 0
        self.new_columns: list[str] = []
        self._declared = data_column_names(spec.schema)

    def batches(self, schema: Schema, add_columns: AddColumns) -> Iterator[pa.RecordBatch]:
        """Yield batches in the table's Arrow schema (lineage columns included).

        The parser is closed when this iterator ends or is closed, so an
        abandoned file leaves no reader behind (see ``ingestion.parsers.csv._Feed``).
        """
        with closing(parse(self.obj, self.spec)) as raws:
            for raw in raws:
                known = set(data_column_names(schema))
                new = [c for c in _raw_columns(raw, schema) if c not in known and c not in LINEAGE_NAMES]
                if new:
                    self._check_new_columns(new)
                    self.new_columns += new
                    schema = add_columns(new)
                coerced = _coerce(raw, schema, self._declared)
                self.rows += coerced.rows
                self.valid_rows += coerced.valid_rows
                if coerced.rows:
                    yield self._with_lineage(coerced, schema)

    def _check_new_columns(self, new: list[str]) -> None:
        cap = self.spec.limits.max_new_columns
        if len(self.new_columns) + len(new) > cap:
            shown = ", ".join((self.new_columns + new)[:5])
            raise PermanentError(
                f"{self.obj.key} would add {len(self.new_columns) + len(new)} columns to {self.spec.name} "
                f"({shown}, ...); a file may add at most {cap} (limits.max_new_columns in ingestion/specs.py)",
                reason=reasons.SCHEMA_LIMIT,
            )

    def _with_lineage(self, coerced: Coerced, schema: Schema) -> pa.RecordBatch:
        n = coerced.rows
        arrays = dict(zip(data_column_names(schema), coerced.columns))
        arrays[SOURCE_KEY] = pa.repeat(pa.scalar(self.obj.key, pa.string()), n)
        arrays[SOURCE_ETAG] = pa.repeat(pa.scalar(self.obj.etag, pa.string()), n)
        arrays[INGESTED_AT] = pa.repeat(pa.scalar(self.ingested_at, pa.timestamp("us", tz="UTC")), n)
        arrays[RESCUED_DATA] = coerced.rescued
        target = arrow_schema(schema)
        return pa.RecordBatch.from_arrays([arrays[name] for name in target.names], schema=target)

    def check(self) -> None:
        """Raise ``all_rows_invalid`` when the file had rows but none held a declared value."""
        if self.rows and not self.valid_rows:
            raise PermanentError(
                f"{self.obj.key}: none of its {self.rows} rows has a value in a column of {self.spec.name} "
                f"({', '.join(self._declared)}); is it the right file for this folder?",
                reason=reasons.ALL_ROWS_INVALID,
            )
