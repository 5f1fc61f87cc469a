"""Vehicle health telemetry: monthly gzipped JSON Lines of nested records.

A sample of sold vehicles reports once a month from the month after its sale.
Odometer and charge cycles grow with each vehicle's own driving pace; battery
state of health fades with age and cycles (1-2.5 %/year plus a per-cycle
term), so silver and gold can chart degradation per model.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from data.generator import reference as ref
from data.generator.config import DIRT_RATES, HEALTH_FIRST_MONTH, HEALTH_MONTHS, Counts
from data.generator.core import add_months, derive_rng, iso_date, iso_timestamp, money, to_date, to_day
from data.generator.dirt import Deferred, DirtPlan, break_timestamp
from data.generator.entities import STATES, CustomerIndex, VehicleModel
from data.generator.sales import Fleet
from data.generator.writers import DatasetReport, Output, RecordFile, add_entry

_STATE_TEMP = {s: sum(c.mean_temp_c for c in ref.CITIES if c.state == s) /
               sum(1 for c in ref.CITIES if c.state == s) for s in STATES}


@dataclass(frozen=True)
class _Tracked:
    """A reporting vehicle and its fixed traits."""

    vehicle: int
    model: VehicleModel
    sale_day: int
    first_month: int
    records: int
    day_in_month: int
    second: int
    km_per_day: float
    calendar_fade: float
    cycle_fade: float
    climate_c: float


def health_key(month: int) -> str:
    """Landing key of a monthly health file."""
    return f"raw/vehicle_health/health_{add_months(HEALTH_FIRST_MONTH, month):%Y-%m}.jsonl.gz"


def _month_day(month: int) -> int:
    return to_day(add_months(HEALTH_FIRST_MONTH, month))


def _select(rng: random.Random, target: int, fleet: Fleet, customers: CustomerIndex) -> list[_Tracked]:
    """Draw reporting vehicles until their records add up to ``target``."""
    eligible = fleet.sold_before(_month_day(HEALTH_MONTHS - 1) - 27)
    chosen: list[_Tracked] = []
    seen: set[int] = set()
    total = 0
    while total < target and len(seen) < eligible:
        vehicle = rng.randrange(eligible)
        if vehicle in seen:
            continue
        seen.add(vehicle)
        sale_day = fleet.sale_day[vehicle]
        first = next(m for m in range(HEALTH_MONTHS) if _month_day(m) > sale_day)
        records = min(HEALTH_MONTHS - first, target - total)
        state = STATES[customers.state[fleet.buyer[vehicle]]]
        chosen.append(_Tracked(
            vehicle, fleet.models[fleet.model[vehicle]], sale_day, first, records, rng.randrange(28),
            rng.randrange(6 * 3600, 23 * 3600), rng.uniform(25, 90), rng.uniform(1.0, 2.5),
            rng.uniform(0.0015, 0.004), _STATE_TEMP[state]))
        total += records
    chosen.sort(key=lambda t: (t.day_in_month, t.second, t.vehicle))
    return chosen


def generate_vehicle_health(seed: int, counts: Counts, customers: CustomerIndex, fleet: Fleet,
                            output: Output) -> DatasetReport:
    """Write the monthly health files for a sample of sold vehicles."""
    rng = derive_rng(seed, "vehicle_health")
    tracked = _select(rng, counts.vehicle_health, fleet, customers)
    total = sum(t.records for t in tracked)
    plan = DirtPlan.build(rng, total, DIRT_RATES["vehicle_health"])
    report = DatasetReport("vehicle_health", generated=total, dirt=dict(plan.counts))
    report.extra["vehicles"] = len(tracked)
    index = 0
    for month in range(HEALTH_MONTHS):
        deferred = Deferred()
        with RecordFile(output, health_key(month)) as out:
            written = 0
            for item in tracked:
                if not item.first_month <= month < item.first_month + item.records:
                    continue
                record = _record(rng, index, item, _month_day(month) + item.day_in_month, fleet)
                _health_dirt(rng, plan.kind(index), record, deferred, written)
                _write_counted(out, record, report)
                index += 1
                written += 1
                for copy in deferred.ready(written):
                    _write_counted(out, copy, report)
            for copy in deferred.drain():
                _write_counted(out, copy, report)
        add_entry(report, out.entry())
    return report


def _write_counted(out: RecordFile, record: dict[str, Any], report: DatasetReport) -> None:
    for name in ("service_flags", "maintenance_log"):
        if not record[name]:
            report.bump(report.shape, f"empty_{name}")
    out.write(record)


def _record(rng: random.Random, index: int, item: _Tracked, day: int, fleet: Fleet) -> dict[str, Any]:
    """One monthly snapshot of a vehicle ``day - sale_day`` days after its sale."""
    model, elapsed = item.model, day - item.sale_day
    odometer = item.km_per_day * elapsed * (1 + 0.02 * math.sin(item.vehicle + elapsed / 90))
    cycles = int(odometer / (model.range_km * 0.75))
    soh = 100 - item.calendar_fade * elapsed / 365 - item.cycle_fade * cycles + rng.uniform(-0.2, 0.2)
    season = math.cos(2 * math.pi * (to_date(day).timetuple().tm_yday - 200) / 365)
    return {
        "record_id": f"VH-{index + 1:08d}",
        "vehicle_id": fleet.vehicle_id(item.vehicle),
        "model_id": model.model_id,
        "recorded_at": iso_timestamp(day, item.second),
        "odometer_km": round(odometer, 1),
        "battery": {
            "state_of_health_pct": round(min(100.0, soh), 1),
            "cycle_count": cycles,
            "temperature_c": round(item.climate_c + 9 * season + 8 + rng.uniform(-3, 3), 1),
            "voltage_v": round(model.volts * rng.uniform(0.93, 1.04), 1),
        },
        "performance": {
            "efficiency_wh_per_km": round(model.wh_per_km * (1.08 - 0.1 * season) * rng.uniform(0.95, 1.06), 1),
            "motor_temp_c": round(rng.uniform(45, 85), 1),
            "regen_efficiency_pct": round(rng.uniform(62, 78), 1),
        },
        "service_flags": [flag for flag, p in ref.SERVICE_FLAGS if rng.random() < p],
        "maintenance_log": _maintenance(rng, day, item.sale_day),
    }


def _maintenance(rng: random.Random, day: int, sale_day: int) -> list[dict[str, Any]]:
    """Services done since the previous monthly snapshot (usually none), never before the sale."""
    entries: list[dict[str, Any]] = []
    while rng.random() < (0.12 if not entries else 0.15):
        service, low, high, notes = rng.choice(ref.SERVICE_TYPES)
        cost = 0.0 if rng.random() < 0.2 else rng.uniform(low, high)
        entries.append({"date": iso_date(max(sale_day, day - rng.randint(1, 27))), "service_type": service,
                        "cost_usd": float(money(cost)), "notes": notes})
    entries.sort(key=lambda e: e["date"])
    return entries


def _health_dirt(rng: random.Random, kind: str | None, record: dict[str, Any], deferred: Deferred,
                 written: int) -> None:
    if kind == "duplicate_records":
        deferred.add(written + rng.randint(1, 40), record)
    elif kind == "model_id_casing":
        record["model_id"] = record["model_id"].lower()
    elif kind == "missing_performance":
        del record["performance"]
    elif kind == "unparseable_timestamp":
        record["recorded_at"] = break_timestamp(rng, record["recorded_at"])
