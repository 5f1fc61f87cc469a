"""Typed conversion with rescue: raw batches to the table's Arrow types.

One rule for every format: a leaf value is turned into text and cast with
Arrow's own string parsers (ISO-8601 dates and timestamps, decimals that must
fit precision and scale exactly, integers that must be integers). Text that
does not cast becomes null and its original value goes to ``_rescued_data``
under the column's path (``sale_price_usd``, ``battery.temperature_c``,
``maintenance_log[2].cost_usd``). The row is always kept.

Casting is vectorized: clean data costs one cast per column. When a cast
fails, Arrow's error usually names the value (``Failed to parse string:
'2023-13-04' ...``): every occurrence of exactly that text is nulled and
rescued at once, and the cast is tried again (one vectorized pass per
distinct bad value). When the error names no value (a decimal that does not
fit), names one that is not in the batch, or a batch has too many distinct
bad values, the rest is bisected down to the bad values (O(bad x log n)
casts). Both give the same result: a text that fails to cast fails wherever
it appears.

Whitespace around non-string values is ignored and empty text is null. String
columns keep their text exactly (silver trims), and timestamps without an
offset are read as UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema
from pyiceberg.types import IcebergType, ListType, StringType, StructType

from ingestion.parsers import normalize_name
from ingestion.schema import LINEAGE_NAMES, arrow_type, data_column_names

_UTC = pa.timestamp("us", tz="UTC")
_ZONED = r"([Zz]|[+-]\d\d(:?\d\d)?)$"
_SCAN_BELOW = 32  # below this many values, cast one by one instead of bisecting
# Arrow's messages that quote the text that failed (greedy: the text may hold quotes).
_NAMED_FAILURES = (
    re.compile(r"Failed to parse string: '(.*)' as a scalar of type ", re.S),
    re.compile(r"The string '(.*)' is not a valid ", re.S),
)
_NAMED_LIMIT = 32  # distinct bad values removed by name per column and batch before bisecting


@dataclass
class Rescues:
    """Original values that did not fit, per row: ``{row: {path: value}}``."""

    by_row: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add(self, row: int, path: str, value: Any) -> None:
        self.by_row.setdefault(row, {})[path] = value

    def column(self, rows: int) -> pa.Array:
        """The ``_rescued_data`` column: a JSON object per row, or null."""
        if not self.by_row:
            return pa.nulls(rows, pa.string())
        texts: list[str | None] = [None] * rows
        for row, values in self.by_row.items():
            texts[row] = json.dumps(values, ensure_ascii=False, default=str)
        strings, bad = strings_or_null(texts)
        if not bad:
            return strings
        for row in bad:  # lone surrogates: \u-escaped, the one form UTF-8 can hold
            texts[row] = json.dumps(self.by_row[row], ensure_ascii=True, default=str)
        return pa.array(texts, pa.string())


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def strings_or_null(texts: list[str | None]) -> tuple[pa.Array, list[int]]:
    """A string array; texts UTF-8 cannot hold become null, their indices returned.

    JSON can spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it
    into a ``str`` that Arrow (UTF-8) refuses. Checked per value only after the
    whole-array conversion failed, so clean data pays nothing.
    """
    try:
        return pa.array(texts, pa.string()), []
    except UnicodeEncodeError:
        bad = [i for i, t in enumerate(texts) if t is not None and not _is_unicode(t)]
        for i in bad:
            texts[i] = None
        return pa.array(texts, pa.string()), bad


def _cast_timestamptz(texts: pa.Array) -> pa.Array:
    zoned = pc.match_substring_regex(texts, _ZONED)
    with_zone = pc.cast(pc.if_else(zoned, texts, None), _UTC)
    naive = pc.cast(pc.cast(pc.if_else(zoned, None, texts), pa.timestamp("us")), _UTC)
    return pc.coalesce(with_zone, naive)


def _caster(target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    if target == _UTC:
        return _cast_timestamptz
    return lambda texts: pc.cast(texts, target)


def _cast_or_split(texts: pa.Array, cast: Callable[[pa.Array], pa.Array], target: pa.DataType,
                   offset: int, failed: list[int]) -> list[pa.Array]:
    try:
        return [cast(texts)]
    except pa.ArrowInvalid:
        pass
    if len(texts) <= _SCAN_BELOW:
        out = []
        for i in range(len(texts)):
            try:
                out.append(cast(texts.slice(i, 1)))
            except pa.ArrowInvalid:
                failed.append(offset + i)
                out.append(pa.nulls(1, target))
        return out
    mid = len(texts) // 2
    return (_cast_or_split(texts.slice(0, mid), cast, target, offset, failed)
            + _cast_or_split(texts.slice(mid), cast, target, offset + mid, failed))


def _named_value(exc: pa.ArrowInvalid) -> str | None:
    message = str(exc)
    for pattern in _NAMED_FAILURES:
        match = pattern.match(message)
        if match:
            return match.group(1)
    return None


def _cast_by_name(texts: pa.Array, cast: Callable[[pa.Array], pa.Array],
                  failed: list[int]) -> tuple[pa.Array | None, pa.Array]:
    """Cast, nulling each value Arrow names as the failure; ``(result, texts)``.

    The result is None when Arrow stopped naming values that are in ``texts``
    (or after ``_NAMED_LIMIT`` of them); ``texts`` is then what is left to
    bisect, with the named values already null and their indices in ``failed``.
    """
    for _ in range(_NAMED_LIMIT):
        try:
            return cast(texts), texts
        except pa.ArrowInvalid as exc:
            value = _named_value(exc)
        if value is None:
            break
        same = pc.fill_null(pc.equal(texts, pa.scalar(value, pa.string())), False)
        hits = pc.indices_nonzero(same).to_pylist()
        if not hits:
            break
        failed.extend(hits)
        texts = pc.if_else(same, pa.scalar(None, pa.string()), texts)
    return None, texts


def cast_text(texts: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Cast a string array to ``target``; return the result and the failed indices (now null)."""
    if pa.types.is_string(target):
        return texts, []
    trimmed = pc.utf8_trim_whitespace(texts)
    trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    failed: list[int] = []
    cast = _caster(target)
    result, rest = _cast_by_name(trimmed, cast, failed)
    if result is None:
        chunks = _cast_or_split(rest, cast, target, 0, failed)
        result = pa.concat_arrays([c.cast(target) for c in chunks]) if len(chunks) > 1 else chunks[0]
    return result, sorted(failed)


def _text(value: Any) -> str | None:
    """A JSON leaf as text for casting: strings as is, other scalars as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _primitive(values: Sequence[Any], rows: Sequence[int], paths: Sequence[str], target: IcebergType,
               rescues: Rescues) -> pa.Array:
    arrow = arrow_type(target)
    texts: list[str | None] = []
    for value, row, path in zip(values, rows, paths):
        if isinstance(value, (dict, list)) and not isinstance(target, StringType):
            rescues.add(row, path, value)  # an object where a scalar belongs
            texts.append(None)
        else:
            texts.append(_text(value))
    strings, bad = strings_or_null(texts)
    typed, failed = cast_text(strings, arrow)
    for i in bad + failed:
        rescues.add(rows[i], paths[i], values[i])
    return typed


def _struct(values: Sequence[Any], rows: Sequence[int], paths: Sequence[str], target: StructType,
            rescues: Rescues) -> pa.Array:
    names = [f.name for f in target.fields]
    by_norm = {normalize_name(n): n for n in names}
    children: dict[str, list[Any]] = {n: [] for n in names}
    mask = []
    for value, row, path in zip(values, rows, paths):
        if not isinstance(value, dict):
            if value is not None:
                rescues.add(row, path, value)
            mask.append(True)
            value = {}
        else:
            mask.append(False)
        resolved: dict[str, Any] = {}
        for raw_key, item in value.items():
            name = raw_key if raw_key in children else by_norm.get(normalize_name(raw_key))
            if name is None:
                rescues.add(row, f"{path}.{raw_key}", item)  # nested drift is kept, not added
            else:
                resolved[name] = item
        for n in names:
            children[n].append(resolved.get(n))
    arrays = [build_array(children[f.name], rows, [f"{p}.{f.name}" for p in paths], f.field_type, rescues)
              for f in target.fields]
    fields = [pa.field(f.name, arrow_type(f.field_type)) for f in target.fields]
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=pa.array(mask, pa.bool_()))


def _list(values: Sequence[Any], rows: Sequence[int], paths: Sequence[str], target: ListType,
          rescues: Rescues) -> pa.Array:
    offsets, mask = [0], []
    items: list[Any] = []
    item_rows: list[int] = []
    item_paths: list[str] = []
    for value, row, path in zip(values, rows, paths):
        if isinstance(value, list):
            items.extend(value)
            item_rows.extend([row] * len(value))
            item_paths.extend(f"{path}[{i}]" for i in range(len(value)))
            mask.append(False)
        else:
            if value is not None:
                rescues.add(row, path, value)
            mask.append(True)
        offsets.append(len(items))
    child = build_array(items, item_rows, item_paths, target.element_type, rescues)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), child, type=arrow_type(target),
                                    mask=pa.array(mask, pa.bool_()))


def build_array(values: Sequence[Any], rows: Sequence[int], paths: Sequence[str], target: IcebergType,
                rescues: Rescues) -> pa.Array:
    """Python values (decoded JSON) to an Arrow array of ``target``, rescuing misfits.

    ``rows`` maps each value to its top-level row and ``paths`` names it, so a
    value deep in a list of structs is rescued on the right row.
    """
    if isinstance(target, StructType):
        return _struct(values, rows, paths, target, rescues)
    if isinstance(target, ListType):
        return _list(values, rows, paths, target, rescues)
    return _primitive(values, rows, paths, target, rescues)


@dataclass
class Coerced:
    """Data columns of one batch in table order, with rescues and row validity."""

    columns: list[pa.Array]
    rescued: pa.Array
    rows: int
    valid_rows: int


def _valid_rows(columns: dict[str, pa.Array], declared: Sequence[str], rows: int, invalid: set[int]) -> int:
    """Rows with at least one declared column holding a value (and not marked invalid)."""
    if rows == 0:
        return 0
    present = [pc.is_valid(columns[name]) for name in declared if name in columns]
    if not present:
        return 0
    has_value = present[0]
    for more in present[1:]:
        has_value = pc.or_(has_value, more)
    if invalid:
        has_value = pc.and_(has_value, pa.array([i not in invalid for i in range(rows)]))
    return pc.sum(has_value.cast(pa.int64())).as_py() or 0


def _finish(schema: Schema, built: dict[str, pa.Array], rows: int, rescues: Rescues, declared: Sequence[str],
            invalid: set[int]) -> Coerced:
    names = data_column_names(schema)
    out = [built[n] if n in built else pa.nulls(rows, arrow_type(schema.find_field(n).field_type)) for n in names]
    return Coerced(out, rescues.column(rows), rows, _valid_rows(built, declared, rows, invalid))


def coerce_text(table: pa.Table, malformed: Sequence[str], schema: Schema, declared: Sequence[str]) -> Coerced:
    """CSV batch (string columns, normalized names) plus malformed row texts to table types."""
    rescues = Rescues()
    built: dict[str, pa.Array] = {}
    names = set(data_column_names(schema))
    for name in table.column_names:
        texts = table.column(name).combine_chunks()
        if name in LINEAGE_NAMES or name not in names:
            for i, value in enumerate(texts.to_pylist()):
                if value is not None:
                    rescues.add(i, name, value)
            continue
        target = schema.find_field(name).field_type
        if isinstance(target, (StructType, ListType)):  # nested value in a CSV cell: JSON text
            decoded = [_json_or_text(v) for v in texts.to_pylist()]
            built[name] = build_array(decoded, range(len(decoded)), [name] * len(decoded), target, rescues)
            continue
        typed, failed = cast_text(texts, arrow_type(target))
        for i in failed:
            rescues.add(i, name, texts[i].as_py())
        built[name] = typed
    rows = table.num_rows
    for j, text in enumerate(malformed):
        rescues.add(rows + j, "_malformed_row", text)
    if malformed:
        built = {n: pa.concat_arrays([a, pa.nulls(len(malformed), a.type)]) for n, a in built.items()}
    total = rows + len(malformed)
    return _finish(schema, built, total, rescues, declared, set(range(rows, total)))


def _json_or_text(text: str | None) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return text


def record_columns(values: Sequence[Any], schema: Schema) -> list[str]:
    """Top-level keys of the records as column names (existing names first match)."""
    existing = {normalize_name(n): n for n in data_column_names(schema)}
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, dict):
            for key in value:
                seen.setdefault(existing.get(normalize_name(key), normalize_name(key)), None)
    return list(seen)


def coerce_records(values: Sequence[Any], schema: Schema, declared: Sequence[str]) -> Coerced:
    """JSON/PDF records to table types; a non-object record keeps a row with ``_record`` rescued."""
    rescues = Rescues()
    names = data_column_names(schema)
    lookup = {n: n for n in names} | {normalize_name(n): n for n in names}
    columns: dict[str, list[Any]] = {n: [None] * len(values) for n in names}
    invalid: set[int] = set()
    for row, value in enumerate(values):
        if not isinstance(value, dict):
            rescues.add(row, "_record", value)
            invalid.add(row)
            continue
        for key, item in value.items():
            name = lookup.get(key) or lookup.get(normalize_name(key))
            if name is None or key in LINEAGE_NAMES:
                rescues.add(row, key, item)
            else:
                columns[name][row] = item
    rows = range(len(values))
    built = {n: build_array(columns[n], rows, [n] * len(values), schema.find_field(n).field_type, rescues)
             for n in names}
    return _finish(schema, built, len(values), rescues, declared, invalid)
