"""Vehicle models (vehicles.csv) and customers (customers.csv).

Both are reference data for everything else: the models' figures feed the
spec-sheet PDFs, and the compact ``CustomerIndex`` lets sales pick customers
who had signed up by the sale date without keeping customer rows in memory.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from data.generator import reference as ref
from data.generator.config import DIRT_RATES, SIGNUP_FIRST, SIGNUP_LAST, Counts
from data.generator.core import date_span, derive_rng, iso_date, money, sorted_offsets, to_date, to_day
from data.generator.dirt import Deferred, DirtPlan, break_date, pad, recase
from data.generator.writers import DatasetReport, Output, RecordFile, add_entry

VEHICLE_COLUMNS = (
    "model_id", "model_name", "model_year", "body_type", "battery_capacity_kwh",
    "range_km", "charge_time_fast_min", "seats", "base_price_usd",
)
CUSTOMER_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "phone", "city", "state",
    "country", "signup_date", "birth_year",
)
STATES = tuple(sorted({c.state for c in ref.CITIES}))

# Body type -> length, width, height, wheelbase (mm), curb weight (kg), cargo (l), towing (kg).
_BODY = {
    "sedan": (4850, 1890, 1450, 2900, 1950, 480, 750),
    "hatchback": (4250, 1800, 1520, 2700, 1550, 380, 0),
    "crossover": (4600, 1870, 1620, 2800, 1900, 520, 1000),
    "coupe": (4700, 1900, 1380, 2850, 1900, 350, 0),
    "suv": (5050, 1980, 1760, 3050, 2450, 750, 2000),
    "wagon": (4900, 1880, 1500, 2900, 2000, 650, 1200),
    "van": (5150, 2000, 1950, 3200, 2600, 1100, 1500),
    "pickup": (5600, 2050, 1900, 3500, 3000, 1400, 4500),
}


@dataclass(frozen=True)
class VehicleModel:
    """One row of vehicles.csv plus the extra figures printed on its spec sheet."""

    index: int
    code: str
    model_id: str
    model_name: str
    model_year: int
    body_type: str
    battery_capacity_kwh: float
    range_km: int
    charge_time_fast_min: int
    seats: int
    base_price_usd: float
    volts: int
    popularity: float
    wh_per_km: float
    max_dc_kw: int
    onboard_ac_kw: float
    motor_kw: int
    torque_nm: int
    accel_0_100_s: float
    top_speed_kmh: int
    dimensions_mm: tuple[int, int, int, int]
    curb_weight_kg: int
    cargo_l: int
    towing_kg: int
    available_from_day: int

    def csv_row(self) -> list[str]:
        """The row as written to vehicles.csv."""
        return [
            self.model_id, self.model_name, str(self.model_year), self.body_type,
            f"{self.battery_capacity_kwh:.1f}", str(self.range_km), str(self.charge_time_fast_min),
            str(self.seats), money(self.base_price_usd),
        ]


def build_models(seed: int) -> list[VehicleModel]:
    """The 12-model line-up with seeded figures (same for every scale)."""
    rng = derive_rng(seed, "vehicles")
    return [_model(rng, i, base) for i, base in enumerate(ref.MODEL_LINEUP)]


def _model(rng: random.Random, index: int, base: ref.ModelBase) -> VehicleModel:
    battery = base.battery_kwh + rng.choice((-2.5, -1.5, 0.0, 0.0, 1.5, 2.5, 3.5))
    wh_per_km = round(base.wh_per_km * rng.uniform(0.96, 1.04), 1)
    avg_dc_kw = rng.uniform(160, 220) if base.volts == 800 else rng.uniform(85, 120)
    length, width, height, wheelbase, weight, cargo, towing = _BODY[base.body_type]
    motor_kw = round(battery * rng.uniform(2.0, 3.4) / 5) * 5
    weight = int(round(weight + battery * 3.5 + rng.uniform(-40, 40), -1))
    return VehicleModel(
        index=index, code=base.code, model_id=f"FM-{base.name.upper()}", model_name=base.name,
        model_year=base.model_year, body_type=base.body_type, battery_capacity_kwh=battery,
        range_km=round(battery * 1000 / wh_per_km / 5) * 5,
        charge_time_fast_min=round(0.7 * battery / avg_dc_kw * 60), seats=base.seats,
        base_price_usd=round(base.price_usd * rng.uniform(0.97, 1.03), -2) - 100,
        volts=base.volts, popularity=base.popularity, wh_per_km=wh_per_km,
        max_dc_kw=int(round(avg_dc_kw * 1.6 / 5) * 5), onboard_ac_kw=11.0 if battery < 90 else 19.2,
        motor_kw=motor_kw, torque_nm=int(round(motor_kw * rng.uniform(1.9, 2.4), -1)),
        accel_0_100_s=round(max(3.2, weight / motor_kw * rng.uniform(0.55, 0.7)), 1),
        top_speed_kmh=int(round(140 + motor_kw * 0.25 + rng.uniform(0, 20), -1)),
        dimensions_mm=(length + rng.randrange(-60, 61, 5), width + rng.randrange(-20, 21, 5),
                       height + rng.randrange(-20, 21, 5), wheelbase + rng.randrange(-30, 31, 5)),
        curb_weight_kg=weight, cargo_l=cargo + rng.randrange(-30, 31, 5),
        towing_kg=towing, available_from_day=to_day(date(base.model_year - 1, 7, 1)),
    )


def write_vehicles(models: list[VehicleModel], output: Output) -> DatasetReport:
    """vehicles.csv: the clean reference table of the line-up (no dirt)."""
    report = DatasetReport("vehicles", generated=len(models))
    with RecordFile(output, "raw/ecoride/vehicles/vehicles.csv", VEHICLE_COLUMNS) as out:
        for model in models:
            out.write(model.csv_row())
    add_entry(report, out.entry())
    return report


@dataclass
class CustomerIndex:
    """Compact per-customer columns (index = customer number - 1)."""

    signup_day: array[int]
    state: array[int]
    bought_models: array[int]  # bit i set when the customer bought model i

    def signed_up_by(self, day: int) -> int:
        """How many customers had signed up on or before ``day``."""
        return bisect_right(self.signup_day, day)

    def __len__(self) -> int:
        return len(self.signup_day)


def customer_id(index: int) -> str:
    """Stable customer id of the customer at ``index``."""
    return f"CUST-{index + 1:06d}"


def generate_customers(seed: int, counts: Counts, output: Output) -> tuple[CustomerIndex, DatasetReport]:
    """Stream customers.csv (in signup order) and build the customer index."""
    rng = derive_rng(seed, "customers")
    n = counts.customers
    plan = DirtPlan.build(rng, n, DIRT_RATES["customers"])
    report = DatasetReport("customers", generated=n, dirt=dict(plan.counts))
    first, span = date_span(SIGNUP_FIRST, SIGNUP_LAST)
    days = [first + d for d in sorted_offsets(rng, n, span)]
    index = CustomerIndex(array("H"), array("B"), array("H", bytes(2 * n)))
    city_weights = [c.weight for c in ref.CITIES]
    deferred = Deferred()
    with RecordFile(output, "raw/ecoride/customers/customers.csv", CUSTOMER_COLUMNS) as out:
        for i, day in enumerate(days):
            city = rng.choices(ref.CITIES, weights=city_weights)[0]
            row = _customer_row(rng, i, day, city)
            index.signup_day.append(day)
            index.state.append(STATES.index(city.state))
            _dirty_customer(rng, plan.kind(i), row, day, deferred, i)
            out.write(row)
            for copy in deferred.ready(i):
                out.write(copy)
        for copy in deferred.drain():
            out.write(copy)
    add_entry(report, out.entry())
    return index, report


def _customer_row(rng: random.Random, i: int, day: int, city: ref.City) -> list[str]:
    first_name, last_name = rng.choice(ref.FIRST_NAMES), rng.choice(ref.LAST_NAMES)
    email = f"{first_name[0]}{last_name}{i + 1}@{rng.choice(ref.EMAIL_DOMAINS)}".lower()
    phone = f"+1-{city.area_code}-{rng.randint(200, 999)}-{rng.randrange(10000):04d}"
    birth_year = rng.randint(1948, 2004)
    return [customer_id(i), first_name, last_name, email, phone, city.name, city.state, "US",
            iso_date(day), str(birth_year)]


def _dirty_customer(rng: random.Random, kind: str | None, row: list[str], day: int,
                    deferred: Deferred, i: int) -> None:
    """Apply the planned dirt kind to a customer row in place."""
    if kind == "duplicate_rows":
        deferred.add(i + rng.randint(1, 40), list(row))
    elif kind == "whitespace":
        col = rng.choice((1, 2, 5, 6, 7))  # first/last name, city, state, country
        row[col] = pad(rng, row[col])
    elif kind == "casing":
        col = rng.choice((5, 6, 7))
        row[col] = recase(rng, row[col])
    elif kind == "unparseable_date":
        row[8] = break_date(rng, to_date(day))
    elif kind == "missing_phone":
        row[4] = ""
