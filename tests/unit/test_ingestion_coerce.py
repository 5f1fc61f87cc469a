"""Typed conversion with rescue: one rule set for CSV text and JSON values."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.coerce import cast_text, coerce_records, coerce_text, record_columns
from ingestion.schema import DATE, INT, STRING, TIMESTAMPTZ, arrow_type, columns, list_of, money, struct

UTC = timezone.utc


@pytest.mark.parametrize(("texts", "target", "values", "failed"), [
    (["42", " 7 ", "", None, "1.5", "+3"], INT, [42, 7, None, None, None, None], [4, 5]),
    (["12.30", "-5", "12.345", "abc", "1e2"], money(), [Decimal("12.30"), Decimal("-5.00"), None, None, Decimal("100.00")], [2, 3]),
    (["2024-02-29", "2024-02-30", "01/15/2024", "N/A"], DATE, [date(2024, 2, 29), None, None, None], [1, 2, 3]),
    (["2024-01-15T10:00:00Z", "2024-01-15T11:00:00+01:00", "2024-01-15 10:00:00", "2024-01-15T34:00:00Z"],
     TIMESTAMPTZ, [datetime(2024, 1, 15, 10, tzinfo=UTC)] * 3 + [None], [3]),
    ([" keep  spaces ", ""], STRING, [" keep  spaces ", ""], []),
])
def test_cast_text_types_what_fits_and_reports_what_does_not(texts, target, values, failed) -> None:  # noqa: ANN001
    typed, bad = cast_text(pa.array(texts, pa.string()), arrow_type(target))
    assert [v.astimezone(UTC) if isinstance(v, datetime) else v for v in typed.to_pylist()] == values
    assert sorted(bad) == failed


def test_bisection_finds_every_bad_value_in_a_large_batch() -> None:
    texts = [str(i) if i % 997 else f"bad{i}" for i in range(50_000)]
    typed, bad = cast_text(pa.array(texts), pa.int64())
    assert sorted(bad) == [i for i in range(50_000) if i % 997 == 0]
    assert typed.null_count == len(bad)
    assert typed[1].as_py() == 1


SCHEMA = columns(
    id=STRING, price=money(), day=DATE,
    battery=struct(cycles=INT, temp=INT),
    tags=list_of(STRING),
    log=list_of(struct(cost=money(), day=DATE)),
)
DECLARED = ["id", "price", "day", "battery", "tags", "log"]


def test_csv_values_that_do_not_fit_are_null_and_rescued_under_their_column() -> None:
    table = pa.table({"id": ["A", "B"], "price": ["10.50", "abc"], "day": ["2024-01-01", "2024-13-01"]})
    out = coerce_text(table, [], SCHEMA, DECLARED)
    assert out.columns[1].to_pylist() == [Decimal("10.50"), None]
    assert out.rescued.to_pylist() == [None, json.dumps({"price": "abc", "day": "2024-13-01"})]
    assert (out.rows, out.valid_rows) == (2, 2)


def test_malformed_csv_rows_become_rows_with_their_text_rescued() -> None:
    out = coerce_text(pa.table({"id": ["A"]}), ["A,1,2,3"], SCHEMA, DECLARED)
    assert out.rows == 2 and out.valid_rows == 1
    assert json.loads(out.rescued[1].as_py()) == {"_malformed_row": "A,1,2,3"}


def test_nested_json_is_typed_and_misfits_are_rescued_by_path() -> None:
    records = [
        {"id": "A", "price": 12.5, "battery": {"cycles": "many", "temp": 20, "extra": 1},
         "tags": ["x", 3], "log": [{"cost": 1.234, "day": "2024-01-01"}, {"cost": "2", "day": None}]},
        {"id": "B", "battery": "broken", "tags": "x", "log": None},
    ]
    out = coerce_records(records, SCHEMA, DECLARED)
    by_name = dict(zip(["id", "price", "day", "battery", "tags", "log"], out.columns))
    assert by_name["price"].to_pylist() == [Decimal("12.50"), None]
    assert by_name["battery"].to_pylist() == [{"cycles": None, "temp": 20}, None]
    assert by_name["tags"].to_pylist() == [["x", "3"], None]
    assert by_name["log"].to_pylist() == [[{"cost": None, "day": date(2024, 1, 1)}, {"cost": Decimal("2.00"), "day": None}], None]
    assert json.loads(out.rescued[0].as_py()) == {"battery.extra": 1, "battery.cycles": "many", "log[0].cost": 1.234}
    assert json.loads(out.rescued[1].as_py()) == {"battery": "broken", "tags": "x"}


def test_a_record_that_is_not_an_object_keeps_a_row_but_is_not_valid() -> None:
    out = coerce_records([{"id": "A"}, 5, ["x"]], SCHEMA, DECLARED)
    assert (out.rows, out.valid_rows) == (3, 1)
    assert json.loads(out.rescued[1].as_py()) == {"_record": 5}


def test_json_keys_match_columns_case_and_spacing_insensitively() -> None:
    out = coerce_records([{"ID": "A", "Price": "1.00"}], SCHEMA, DECLARED)
    assert out.columns[0].to_pylist() == ["A"] and out.columns[1].to_pylist() == [Decimal("1.00")]
    assert record_columns([{"ID": 1, "New Field": 2}], SCHEMA) == ["id", "new_field"]


def test_a_row_without_any_declared_value_is_not_valid() -> None:
    out = coerce_text(pa.table({"colour": ["red"]}), [], SCHEMA, DECLARED)
    assert out.valid_rows == 0
