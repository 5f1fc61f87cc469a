"""Sales: monthly CSV files streamed row by row, and the sold-vehicle index.

Every sale introduces one vehicle. ``Fleet`` keeps three compact columns per
vehicle (sale day, buyer, model), about 7 bytes each, which is what sessions,
reviews and health records need to reference sold vehicles and their owners.
Later monthly files carry late-reported sales and re-statements (corrected
values under an existing sale_id); one month is re-sent under a second key.
"""

from __future__ import annotations

import logging
import random
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

from data.generator import reference as ref
from data.generator.config import DIRT_RATES, SALES_FIRST_MONTH, SALES_MONTHS, Counts, dirt_count
from data.generator.core import add_months, derive_rng, iso_date, money, sorted_offsets, split_counts, to_day
from data.generator.dirt import Deferred, DirtPlan, break_date, pad, recase
from data.generator.entities import STATES, CustomerIndex, VehicleModel, customer_id
from data.generator.writers import DatasetReport, Output, RecordFile, add_entry

logger = logging.getLogger(__name__)

SALES_COLUMNS = (
    "sale_id", "customer_id", "vehicle_id", "model_id", "sale_date", "sale_price_usd",
    "discount_usd", "payment_method", "dealership", "state",
)
UNKNOWN_SERIAL_BASE = 900_000_000  # serials this high are never sold: unknown vehicles


def vehicle_id(model: VehicleModel, serial: int) -> str:
    """17-character VIN-like id: maker, model code, model-year letter, plant, serial."""
    year_code = "PRSTV"[model.model_year - 2023]
    plant = "AT"[model.volts == 800]
    return f"7FM{model.code}{year_code}{plant}{serial:09d}"


@dataclass
class Fleet:
    """Sold vehicles in sale order (index = serial - 1); sale days are sorted.

    With ``tracked`` False (only the sales files are wanted) nothing is kept,
    so memory does not grow with the number of sales.
    """

    models: list[VehicleModel]
    tracked: bool = True
    sale_day: array[int] = field(default_factory=lambda: array("H"))
    buyer: array[int] = field(default_factory=lambda: array("I"))
    model: array[int] = field(default_factory=lambda: array("B"))

    def add(self, day: int, buyer: int, model: int) -> None:
        """Record a sold vehicle."""
        if self.tracked:
            self.sale_day.append(day)
            self.buyer.append(buyer)
            self.model.append(model)

    def __len__(self) -> int:
        return len(self.sale_day)

    def sold_before(self, day: int) -> int:
        """Number of vehicles sold strictly before ``day``."""
        return bisect_left(self.sale_day, day)

    def vehicle_id(self, index: int) -> str:
        """Vehicle id of the vehicle at ``index``."""
        return vehicle_id(self.models[self.model[index]], index + 1)


@dataclass
class _Month:
    """Per-month generation state."""

    index: int
    first_day: int
    days: int
    cum_weights: list[float]
    models: list[VehicleModel]


class _SalesBuilder:
    """Makes canonical sale rows; holds the lookups the row maker needs."""

    def __init__(self, rng: random.Random, models: list[VehicleModel], customers: CustomerIndex) -> None:
        self.rng = rng
        self.models = models
        self.customers = customers
        dealers = [(f"FutureMobility {city} {suffix}", _state_of(city)) for city, suffix in ref.DEALERSHIPS]
        self.dealers = dealers
        self.dealers_by_state = {s: [d for d in dealers if d[1] == s] for s in STATES}
        self.pay_names = [p for p, _ in ref.SALE_PAYMENT_METHODS]
        self.pay_cum = list(accumulate(w for _, w in ref.SALE_PAYMENT_METHODS))

    def month(self, index: int) -> _Month:
        """Models on sale in a month and their popularity."""
        start = add_months(SALES_FIRST_MONTH, index)
        first_day = to_day(start)
        on_sale = [m for m in self.models if m.available_from_day <= first_day]
        days = to_day(add_months(start, 1)) - first_day
        return _Month(index, first_day, days, list(accumulate(m.popularity for m in on_sale)), on_sale)

    def row(self, month: _Month, sale_index: int, day: int, fleet: Fleet) -> list[str]:
        """One clean sale; records the new vehicle in the fleet."""
        rng = self.rng
        buyer = rng.randrange(self.customers.signed_up_by(day))
        model = rng.choices(month.models, cum_weights=month.cum_weights)[0]
        candidates = self.dealers_by_state[STATES[self.customers.state[buyer]]]
        dealer, state = rng.choice(candidates if candidates and rng.random() < 0.85 else self.dealers)
        price = model.base_price_usd * (1 + rng.choice((0.0, 0.0, 0.04, 0.07, 0.11)))
        discount = 0.0 if rng.random() < 0.6 else min(price * 0.15, 250.0 * rng.randint(1, 16))
        payment = rng.choices(self.pay_names, cum_weights=self.pay_cum)[0]
        fleet.add(day, buyer, model.index)
        self.customers.bought_models[buyer] |= 1 << model.index
        return [f"SALE-{sale_index + 1:08d}", customer_id(buyer), vehicle_id(model, sale_index + 1),
                model.model_id, iso_date(day), money(price), money(discount), payment, dealer, state]

    def restate(self, row: list[str]) -> list[str]:
        """A corrected version of a sale: new price, discount or payment method."""
        fixed = list(row)
        what = self.rng.randrange(3)
        if what == 0:
            fixed[5] = money(float(row[5]) * self.rng.choice((0.95, 0.97, 1.02, 1.03)))
        elif what == 1:
            fixed[6] = money(float(row[6]) + 250.0 * self.rng.randint(1, 8))
        else:
            fixed[7] = self.rng.choice([p for p in self.pay_names if p != row[7]])
        return fixed


def _state_of(city_name: str) -> str:
    return next(c.state for c in ref.CITIES if c.name == city_name)


def _month_weights(rng: random.Random) -> list[float]:
    """Growing sales with a seasonal bump in spring and year end."""
    season = (0.8, 0.85, 1.05, 1.1, 1.05, 1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.2)
    return [(0.6 + 0.8 * i / (SALES_MONTHS - 1)) * season[i % 12] * rng.uniform(0.93, 1.07)
            for i in range(SALES_MONTHS)]


def sales_key(month_index: int, suffix: str = "") -> str:
    """Landing key of a monthly sales file."""
    month = add_months(SALES_FIRST_MONTH, month_index)
    return f"raw/ecoride/sales/sales_{month:%Y-%m}{suffix}.csv"


def generate_sales(seed: int, counts: Counts, models: list[VehicleModel], customers: CustomerIndex,
                   track_fleet: bool, output: Output) -> tuple[Fleet, DatasetReport]:
    """Stream the monthly sales files; return the fleet of sold vehicles.

    Memory is bounded by one month (its sale days, dirt plan and rows carried
    to later months); ``track_fleet`` adds 7 bytes per sale for the datasets
    that reference sold vehicles.
    """
    rng = derive_rng(seed, "sales")
    per_month = split_counts(counts.sales, _month_weights(rng))
    month_dirt = _spread_dirt(counts.sales, per_month)
    resent_month = rng.randrange(1, SALES_MONTHS - 1)
    builder = _SalesBuilder(rng, models, customers)
    fleet = Fleet(models, tracked=track_fleet)
    report = DatasetReport("sales", generated=counts.sales, dirt=dict.fromkeys(DIRT_RATES["sales"], 0))
    carry: dict[int, list[list[str]]] = {}
    start = 0
    for m, size in enumerate(per_month):
        plan = DirtPlan.draw(rng, size, month_dirt[m])
        for kind, count in plan.counts.items():
            report.dirt[kind] += count
        written = _write_month(builder, plan, fleet, output, builder.month(m), start, size, carry)
        add_entry(report, written.entry())
        if m == resent_month and written.records:
            copy = output.copy(sales_key(m), sales_key(m, "_resent"), written.records)
            add_entry(report, copy)
            report.extra["resent_file"] = {"key": sales_key(m, "_resent"), "copy_of": sales_key(m),
                                           "records": written.records}
        start += size
    logger.info("sales: %d generated, %d vehicles tracked", counts.sales, len(fleet))
    return fleet, report


def _spread_dirt(total: int, per_month: list[int]) -> list[dict[str, int]]:
    """Exact dirt counts of the whole dataset, spread over the months by size.

    Planning month by month keeps memory bounded by one month. Late and
    restated rows need a later file, so the last month gets none of them.
    """
    months: list[dict[str, int]] = [{} for _ in per_month]
    for kind, rate in DIRT_RATES["sales"].items():
        weights = [*per_month[:-1], 0] if kind in ("late_rows", "restated_rows") else per_month
        for month, share in zip(months, split_counts(dirt_count(rate, total), weights), strict=True):
            month[kind] = share
    return months


def _write_month(builder: _SalesBuilder, plan: DirtPlan, fleet: Fleet, output: Output, month: _Month,
                 start: int, size: int, carry: dict[int, list[list[str]]]) -> RecordFile:
    """Write one monthly file: its fresh sales plus rows carried from earlier months."""
    rng = builder.rng
    deferred = Deferred()
    for row in carry.pop(month.index, []):
        deferred.add(rng.randint(1, max(1, size)), row)
    days = sorted_offsets(rng, size, month.days)
    with RecordFile(output, sales_key(month.index), SALES_COLUMNS) as out:
        for j, offset in enumerate(days):
            row = builder.row(month, start + j, month.first_day + offset, fleet)
            if _apply_sales_dirt(builder, plan.kind(j), row, month, deferred, j, carry):
                out.write(row)
            for pending in deferred.ready(j + 1):
                out.write(pending)
        for pending in deferred.drain():
            out.write(pending)
    return out


def _apply_sales_dirt(builder: _SalesBuilder, kind: str | None, row: list[str], month: _Month,
                      deferred: Deferred, j: int, carry: dict[int, list[list[str]]]) -> bool:
    """Apply a dirt kind in place; False when the row goes to a later file instead."""
    if kind is None:
        return True
    rng = builder.rng
    if kind in ("late_rows", "restated_rows"):
        later = min(SALES_MONTHS - 1, month.index + rng.choice((1, 1, 1, 2, 3)))
        carry.setdefault(later, []).append(row if kind == "late_rows" else builder.restate(row))
        return kind != "late_rows"
    if kind == "duplicate_rows":
        deferred.add(j + rng.randint(1, 60), list(row))
    elif kind == "whitespace":
        col = rng.choice((7, 8, 9))
        row[col] = pad(rng, row[col])
    elif kind == "casing":
        col = rng.choice((7, 8, 9))
        row[col] = recase(rng, row[col])
    elif kind == "unparseable_date":
        row[4] = break_date(rng, date.fromisoformat(row[4]))
    elif kind == "non_positive_amount":
        row[5] = "0.00" if rng.random() < 0.5 else money(-float(row[5]))
    return True
