"""Dirt counted from the files with plain rules equals the manifest (and so the README).

Each rule below is how silver can recognise that kind of dirt; the generator
gives every dirty record exactly one kind, so the counts are exact.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from tests.unit.test_data_support import (
    SAMPLE,
    canonical_json,
    csv_rows,
    json_records,
    manifest,
    parse_date,
    parse_timestamp,
    resent_key,
)


def expected(dataset: str, part: str = "dirt") -> dict[str, int]:
    return manifest()["datasets"][dataset][part]


def has_stray_whitespace(values: Any) -> bool:
    return any(isinstance(v, str) and v != v.strip() for v in values)


def test_customers_dirt() -> None:
    seen: set[tuple[str, ...]] = set()
    found: Counter[str] = Counter()
    for _, row in csv_rows("customers"):
        city, state, country = row[5], row[6], row[7]
        if row in seen:
            found["duplicate_rows"] += 1
        elif has_stray_whitespace(row):
            found["whitespace"] += 1
        elif city.isupper() or city.islower() or not state.isupper() or country != "US":
            found["casing"] += 1
        elif parse_date(row[8]) is None:
            found["unparseable_date"] += 1
        elif row[4] == "":
            found["missing_phone"] += 1
        seen.add(row)
    assert found == expected("customers")


def test_sales_dirt_within_files() -> None:
    seen: set[tuple[str, ...]] = set()
    found: Counter[str] = Counter()
    for _, row in csv_rows("sales"):
        payment, dealership, state = row[7], row[8], row[9]
        if row in seen:
            found["duplicate_rows"] += 1
        elif has_stray_whitespace(row):
            found["whitespace"] += 1
        elif payment != payment.lower() or dealership.isupper() or dealership.islower() or not state.isupper():
            found["casing"] += 1
        elif parse_date(row[4]) is None:
            found["unparseable_date"] += 1
        elif float(row[5]) <= 0:
            found["non_positive_amount"] += 1
        seen.add(row)
    dirt = expected("sales")
    assert found == {k: v for k, v in dirt.items() if k not in ("late_rows", "restated_rows")}


def test_later_sales_files_restate_earlier_sales_and_carry_late_ones() -> None:
    first_seen: dict[str, tuple[str, tuple[str, ...]]] = {}
    restated = late = 0
    for key, row in csv_rows("sales"):
        if row[0] in first_seen:
            earlier_key, earlier = first_seen[row[0]]
            if earlier != row:
                restated += 1
                assert key > earlier_key, "a re-statement must come in a later file"
                assert earlier[:5] == row[:5], "only values change, not the sale itself"
            continue
        first_seen[row[0]] = (key, row)
        sold = parse_date(row[4])
        if sold is not None and f"sales_{sold:%Y-%m}.csv" not in key:
            late += 1
            assert key > f"raw/ecoride/sales/sales_{sold:%Y-%m}.csv"
    assert (restated, late) == (expected("sales")["restated_rows"], expected("sales")["late_rows"])


def test_one_sales_file_is_re_sent_byte_identical_under_another_name() -> None:
    resent = manifest()["datasets"]["sales"]["resent_file"]
    copy, original = SAMPLE / resent_key(), SAMPLE / resent["copy_of"]
    assert copy.read_bytes() == original.read_bytes() and copy != original


def test_reviews_dirt_and_optional_fields() -> None:
    seen: set[str] = set()
    found: Counter[str] = Counter()
    shape: Counter[str] = Counter()
    for _, record in json_records("reviews"):
        text = canonical_json(record)
        tags = record.get("tags") or []
        if text in seen:
            found["duplicate_records"] += 1
        elif any(t != t.strip().lower() for t in tags):
            found["inconsistent_tags"] += 1
        elif parse_date(record["review_date"]) is None:
            found["unparseable_date"] += 1
        seen.add(text)
        shape.update(f"absent_{k}" for k in ("title", "verified_purchase", "helpful_votes", "tags") if k not in record)
        shape["empty_tags"] += record.get("tags") == []
    assert found == expected("reviews")
    assert shape == expected("reviews", "shape")
    assert all(v is not None for _, r in json_records("reviews") for v in r.values()), "absent, not null"


def test_stations_dirt() -> None:
    seen: set[str] = set()
    found: Counter[str] = Counter()
    for _, record in json_records("stations"):
        text = canonical_json(record)
        if text in seen:
            found["duplicate_records"] += 1
        elif has_stray_whitespace(record.values()):
            found["whitespace"] += 1
        elif (record["charger_type"] not in ("L2", "DCFC") or record["status"] != record["status"].lower()
              or record["operator"].isupper() or record["operator"].islower()):
            found["casing"] += 1
        seen.add(text)
    assert found == expected("stations")


def test_sessions_dirt() -> None:
    seen: set[str] = set()
    found: Counter[str] = Counter()
    for key, record in json_records("sessions"):
        text = canonical_json(record)
        start, end = parse_timestamp(record["start_time"]), parse_timestamp(record["end_time"])
        payment = record["payment_method"]
        if text in seen:
            found["duplicate_records"] += 1
        elif payment != payment.strip():
            found["whitespace"] += 1
        elif payment != payment.lower():
            found["casing"] += 1
        elif start is None:
            found["unparseable_timestamp"] += 1
        elif end is not None and end < start:
            found["end_before_start"] += 1
        elif record["energy_kwh"] <= 0 or record["cost_usd"] <= 0:
            found["non_positive_amount"] += 1
        elif start.date() < date.fromisoformat(key.rsplit("_", 1)[1][:10]):
            found["late_rows"] += 1
        seen.add(text)
    assert found == expected("sessions")


def test_vehicle_health_dirt_and_empty_arrays() -> None:
    seen: set[str] = set()
    found: Counter[str] = Counter()
    shape: Counter[str] = Counter()
    for _, record in json_records("vehicle_health"):
        text = canonical_json(record)
        if text in seen:
            found["duplicate_records"] += 1
        elif record["model_id"] != record["model_id"].upper():
            found["model_id_casing"] += 1
        elif "performance" not in record:
            found["missing_performance"] += 1
        elif parse_timestamp(record["recorded_at"]) is None:
            found["unparseable_timestamp"] += 1
        seen.add(text)
        shape["empty_service_flags"] += record["service_flags"] == []
        shape["empty_maintenance_log"] += record["maintenance_log"] == []
    assert found == expected("vehicle_health")
    assert shape == expected("vehicle_health", "shape")
    assert 0 < shape["empty_service_flags"] < len(json_records("vehicle_health"))


def test_vehicles_are_a_clean_reference_table() -> None:
    rows = [row for _, row in csv_rows("vehicles")]
    assert len(rows) == len(set(rows)) == 12
    assert not any(has_stray_whitespace(row) for row in rows)
    assert expected("vehicles") == {}
