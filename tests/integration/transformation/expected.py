"""What gold and silver.rejected_rows must say, computed in plain Python from the raw sample files.

Written apart from the SQL on purpose: it reads the files in data/sample/raw
with csv/json/gzip, applies the rules of docs/transformation.md in their
plainest form and shares no helper with the dbt project or the ingestion code.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")


def csv_rows(keys: Iterable[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(key, row) in key order, then file order."""
    for key in sorted(keys):
        for row in csv.DictReader(io.StringIO(_text(SAMPLE / key))):
            yield key, row


def json_records(keys: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, object) for JSON arrays and JSON Lines, in key order."""
    for key in sorted(keys):
        text = _text(SAMPLE / key)
        records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
        for record in records:
            yield key, record


def keys_under(prefix: str, keys: Iterable[str]) -> list[str]:
    return [k for k in keys if k.startswith(prefix)]


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def parse_timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


def parse_money(value: Any) -> Decimal | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


# ---- sales --------------------------------------------------------------------------------
def sales_rule(row: dict[str, str]) -> str | None:
    if parse_date(row["sale_date"]) is None:
        return "unparseable_date"
    price = parse_money(row["sale_price_usd"])
    if price is None or price <= 0:
        return "non_positive_price"
    return None


def current_sales(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """sale_id -> the valid row from the latest file (later keys overwrite earlier ones)."""
    latest: dict[str, dict[str, Any]] = {}
    for key, row in csv_rows(keys_under("raw/ecoride/sales/", keys)):
        if sales_rule(row) is not None:
            continue
        price, discount = parse_money(row["sale_price_usd"]), parse_money(row["discount_usd"]) or Decimal(0)
        latest[row["sale_id"].strip()] = {
            "customer_id": row["customer_id"].strip(),
            "model_id": row["model_id"].strip().upper(),
            "state": row["state"].strip().upper(),
            "sale_date": parse_date(row["sale_date"]),
            "net": price - discount,
        }
    return latest


def _previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def sales_monthly(keys: Iterable[str]) -> dict[tuple[date, str, str], tuple[int, Decimal, float | None]]:
    """(month, model_id, state) -> (units, revenue_usd, revenue_growth_pct)."""
    units: Counter[tuple[date, str, str]] = Counter()
    revenue: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
    for sale in current_sales(keys).values():
        key = (sale["sale_date"].replace(day=1), sale["model_id"], sale["state"])
        units[key] += 1
        revenue[key] += sale["net"]
    result = {}
    for (month, model, state), n in units.items():
        previous = revenue.get((_previous_month(month), model, state))
        growth = float((revenue[(month, model, state)] - previous) * 100 / previous) if previous else None
        result[(month, model, state)] = (n, revenue[(month, model, state)], growth)
    return result


def customer_value(keys: Iterable[str]) -> dict[str, tuple[int, Decimal]]:
    """customer_id -> (purchases, lifetime_value_usd)."""
    purchases: Counter[str] = Counter()
    value: dict[str, Decimal] = defaultdict(Decimal)
    for sale in current_sales(keys).values():
        purchases[sale["customer_id"]] += 1
        value[sale["customer_id"]] += sale["net"]
    return {c: (n, value[c]) for c, n in purchases.items()}


def repeat_buyers(keys: Iterable[str]) -> set[str]:
    return {c for c, (n, _) in customer_value(keys).items() if n > 1}


# ---- sessions -----------------------------------------------------------------------------
def session_rule(record: dict[str, Any]) -> str | None:
    start, end = parse_timestamp(record.get("start_time")), parse_timestamp(record.get("end_time"))
    if start is None or end is None:
        return "unparseable_timestamp"
    if end < start:
        return "end_before_start"
    if record.get("energy_kwh") is None or float(record["energy_kwh"]) <= 0:
        return "non_positive_energy"
    cost = parse_money(record.get("cost_usd"))
    if cost is not None and cost < 0:
        return "negative_cost"
    return None


def energy_per_station(keys: Iterable[str]) -> dict[str, float]:
    latest: dict[str, dict[str, Any]] = {}
    for _, record in json_records(keys_under("raw/chargenet/sessions/", keys)):
        if session_rule(record) is None:
            latest[str(record["session_id"]).strip()] = record
    energy: dict[str, float] = defaultdict(float)
    for record in latest.values():
        energy[str(record["station_id"]).strip()] += float(record["energy_kwh"])
    return dict(energy)


# ---- rejected rows ------------------------------------------------------------------------
def rejected_keys_per_rule(keys: Iterable[str]) -> dict[tuple[str, str], int]:
    """(dataset, rule) -> distinct business keys that broke it in any file."""
    keys = list(keys)
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, row in csv_rows(keys_under("raw/ecoride/customers/", keys)):
        if parse_date(row["signup_date"]) is None:
            found[("ecoride_customers", "unparseable_date")].add(row["customer_id"].strip())
    for _, row in csv_rows(keys_under("raw/ecoride/sales/", keys)):
        if (rule := sales_rule(row)) is not None:
            found[("ecoride_sales", rule)].add(row["sale_id"].strip())
    for _, record in json_records(keys_under("raw/ecoride/reviews/", keys)):
        if parse_date(record.get("review_date")) is None:
            found[("ecoride_product_reviews", "unparseable_date")].add(record["review_id"])
        elif not 1 <= int(record["rating"]) <= 5:
            found[("ecoride_product_reviews", "rating_out_of_range")].add(record["review_id"])
    for _, record in json_records(keys_under("raw/chargenet/sessions/", keys)):
        if (rule := session_rule(record)) is not None:
            found[("chargenet_charging_sessions", rule)].add(record["session_id"])
    for _, record in json_records(keys_under("raw/vehicle_health/", keys)):
        if parse_timestamp(record.get("recorded_at")) is None:
            found[("vehicle_health_logs", "unparseable_timestamp")].add(record["record_id"])
    return {k: len(v) for k, v in found.items()}
