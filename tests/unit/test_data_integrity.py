"""Referential integrity across the sample, except the documented violations."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import cache
from itertools import pairwise
from typing import Any

from tests.unit.test_data_contract import CSV_COLUMNS
from tests.unit.test_data_support import as_dicts, json_records, manifest, parse_date, parse_timestamp


@cache
def sales_by_vehicle() -> dict[str, dict[str, Any]]:
    """First row per vehicle with its sale date (None when unparseable)."""
    out: dict[str, dict[str, Any]] = {}
    for row in as_dicts("sales", tuple(CSV_COLUMNS["sales"])):
        out.setdefault(row["vehicle_id"], {**row, "date": parse_date(row["sale_date"])})
    return out


def customer_ids() -> set[str]:
    return {row["customer_id"] for row in as_dicts("customers", tuple(CSV_COLUMNS["customers"]))}


def model_ids() -> set[str]:
    return {row["model_id"] for row in as_dicts("vehicles", tuple(CSV_COLUMNS["vehicles"]))}


def violations(dataset: str) -> dict[str, int]:
    return manifest()["datasets"][dataset]["violations"]


def test_sales_reference_existing_customers_and_models_after_signup() -> None:
    customers = {r["customer_id"]: parse_date(r["signup_date"])
                 for r in as_dicts("customers", tuple(CSV_COLUMNS["customers"]))}
    models = model_ids()
    for row in as_dicts("sales", tuple(CSV_COLUMNS["sales"])):
        assert row["customer_id"] in customers and row["model_id"] in models, row
        signup, sold = customers[row["customer_id"]], parse_date(row["sale_date"])
        assert signup is None or sold is None or signup <= sold, row


def test_each_sale_introduces_its_own_vehicle() -> None:
    by_sale: dict[str, set[str]] = defaultdict(set)
    for row in as_dicts("sales", tuple(CSV_COLUMNS["sales"])):
        by_sale[row["sale_id"]].add(row["vehicle_id"])
    assert all(len(v) == 1 for v in by_sale.values())
    assert len({next(iter(v)) for v in by_sale.values()}) == len(by_sale)


def test_sessions_reference_stations_and_sold_vehicles_with_their_owners() -> None:
    stations = {r["station_id"] for _, r in json_records("stations")}
    sold = sales_by_vehicle()
    unknown = 0
    for _, session in json_records("sessions"):
        assert session["station_id"] in stations
        sale = sold.get(session["vehicle_id"])
        if sale is None:
            unknown += 1
            assert session["customer_id"] is None
            continue
        assert session["customer_id"] == sale["customer_id"]
        start = parse_timestamp(session["start_time"])
        if start and sale["date"]:
            assert start.date() >= sale["date"], session
    assert unknown == violations("sessions")["unknown_vehicle"] > 0


def test_reviews_come_mostly_from_buyers_of_the_model_after_the_sale() -> None:
    customers, models = customer_ids(), model_ids()
    bought: dict[tuple[str, str], list[date | None]] = defaultdict(list)
    for sale in sales_by_vehicle().values():
        bought[sale["customer_id"], sale["model_id"]].append(sale["date"])
    counts = {"unknown_customer": 0, "non_buyer": 0}
    for _, review in json_records("reviews"):
        assert review["model_id"] in models and 1 <= review["rating"] <= 5
        pair = (review["customer_id"], review["model_id"])
        kind = ("unknown_customer" if review["customer_id"] not in customers
                else "non_buyer" if pair not in bought else None)
        if kind:
            counts[kind] += 1
            assert review.get("verified_purchase", False) is False
            continue
        assert review.get("verified_purchase", True) is True
        written, dates = parse_date(review["review_date"]), bought[pair]
        if written and all(dates):  # a sale with an unparseable date may be the reviewed one
            assert min(dates) < written, review
    assert counts == violations("reviews") and all(counts.values())


def test_health_records_follow_the_sale_of_the_vehicle_they_describe() -> None:
    sold = sales_by_vehicle()
    for _, record in json_records("vehicle_health"):
        sale = sold[record["vehicle_id"]]
        assert record["model_id"].upper() == sale["model_id"]
        recorded = parse_timestamp(record["recorded_at"])
        if recorded and sale["date"]:
            assert recorded.date() > sale["date"]
            for service in record["maintenance_log"]:
                assert sale["date"] <= date.fromisoformat(service["date"]) <= recorded.date()


def test_battery_health_degrades_plausibly_with_age() -> None:
    series: dict[str, list[tuple[Any, float, float]]] = defaultdict(list)
    for _, record in json_records("vehicle_health"):
        recorded = parse_timestamp(record["recorded_at"])
        if recorded:
            series[record["vehicle_id"]].append(
                (recorded, record["odometer_km"], record["battery"]["state_of_health_pct"]))
    long_lived = 0
    for points in series.values():
        points.sort()
        assert all(a[1] <= b[1] for a, b in pairwise(points)), "odometer went backwards"
        assert all(85.0 <= soh <= 100.0 for *_, soh in points)
        if len(points) >= 12:
            long_lived += 1
            assert points[-1][2] < points[0][2] - 0.5
    assert long_lived >= 100
