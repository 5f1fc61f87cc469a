"""ChargeNet: charging stations (one JSON array) and weekly charging-session files.

Sessions reference stations and sold vehicles with their owners, start after
the vehicle's sale, and deliver energy the vehicle's battery can take at the
pace the station and the car allow. A documented few reference vehicles that
FutureMobility never sold (roaming cars, no customer).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from itertools import accumulate
from typing import Any

from data.generator import reference as ref
from data.generator.config import (
    DIRT_RATES,
    SESSIONS_FIRST_WEEK,
    SESSIONS_PLAIN_WEEKS,
    SESSIONS_WEEKS,
    STATIONS_OPENED_FIRST,
    STATIONS_OPENED_LAST,
    Counts,
)
from data.generator.core import date_span, derive_rng, iso_date, iso_timestamp, sorted_offsets, split_counts, to_day
from data.generator.dirt import Deferred, DirtPlan, break_timestamp, pad, recase
from data.generator.entities import STATES, CustomerIndex, customer_id
from data.generator.sales import UNKNOWN_SERIAL_BASE, Fleet, vehicle_id
from data.generator.writers import DatasetReport, Output, RecordFile, add_entry

STATIONS_KEY = "raw/chargenet/stations/stations.json"
_WEEK_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Station:
    """A station as sessions need it (the JSON record is built from it)."""

    station_id: str
    state: str
    dcfc: bool
    num_ports: int
    max_power_kw: float
    price_per_kwh: float


def generate_stations(seed: int, counts: Counts, output: Output) -> tuple[list[Station], DatasetReport]:
    """Write stations.json; return the stations for session generation."""
    rng = derive_rng(seed, "stations")
    plan = DirtPlan.build(rng, counts.stations, DIRT_RATES["stations"])
    report = DatasetReport("stations", generated=counts.stations, dirt=dict(plan.counts))
    first, span = date_span(STATIONS_OPENED_FIRST, STATIONS_OPENED_LAST)
    weights = [c.weight for c in ref.CITIES]
    stations: list[Station] = []
    deferred = Deferred()
    with RecordFile(output, STATIONS_KEY) as out:
        for i in range(counts.stations):
            city = rng.choices(ref.CITIES, weights=weights)[0]
            station, record = _station(rng, i, city, first + rng.randrange(span))
            stations.append(station)
            _station_dirt(rng, plan.kind(i), record, deferred, i)
            out.write(record)
            for copy in deferred.ready(i + 1):
                out.write(copy)
        for copy in deferred.drain():
            out.write(copy)
    add_entry(report, out.entry())
    return stations, report


def _station(rng: random.Random, i: int, city: ref.City, opened: int) -> tuple[Station, dict[str, Any]]:
    dcfc = rng.random() < 0.4
    operator = rng.choices([o for o, _ in ref.STATION_OPERATORS], weights=[w for _, w in ref.STATION_OPERATORS])[0]
    power = rng.choice((50.0, 150.0, 250.0, 350.0)) if dcfc else rng.choice((7.2, 11.0, 19.2))
    ports = rng.randint(2, 12) if dcfc else rng.choice((2, 4, 6, 8))
    status = rng.choices([s for s, _ in ref.STATION_STATUSES], weights=[w for _, w in ref.STATION_STATUSES])[0]
    station = Station(f"ST-{i + 1:05d}", city.state, dcfc, ports, power,
                      round(rng.uniform(0.40, 0.60) if dcfc else rng.uniform(0.22, 0.35), 2))
    record = {
        "station_id": station.station_id,
        "name": f"{operator.split()[0]} {city.name} {rng.choice(ref.STATION_SITES)}",
        "operator": operator,
        "location": {
            "latitude": round(city.latitude + rng.uniform(-0.15, 0.15), 6),
            "longitude": round(city.longitude + rng.uniform(-0.15, 0.15), 6),
            "address": f"{rng.randint(10, 9999)} {rng.choice(ref.STREET_NAMES)}",
            "city": city.name,
            "state": city.state,
        },
        "charger_type": "DCFC" if dcfc else "L2",
        "num_ports": ports,
        "max_power_kw": power,
        "opened_date": iso_date(opened),
        "status": status,
    }
    return station, record


def _station_dirt(rng: random.Random, kind: str | None, record: dict[str, Any], deferred: Deferred, i: int) -> None:
    if kind == "duplicate_records":
        deferred.add(i + rng.randint(1, 20), dict(record))
    elif kind in ("whitespace", "casing"):
        field = rng.choice(("charger_type", "operator", "status"))
        record[field] = pad(rng, record[field]) if kind == "whitespace" else recase(rng, record[field])


def sessions_key(week: int) -> str:
    """Landing key of a weekly session file (named by its Monday)."""
    monday = SESSIONS_FIRST_WEEK + timedelta(weeks=week)
    suffix = ".jsonl" if week < SESSIONS_PLAIN_WEEKS else ".jsonl.gz"
    return f"raw/chargenet/sessions/sessions_{monday.isoformat()}{suffix}"


class _SessionMaker:
    """Builds session objects; holds station and payment lookups."""

    def __init__(self, rng: random.Random, stations: list[Station], customers: CustomerIndex, fleet: Fleet) -> None:
        self.rng = rng
        self.stations = stations
        self.by_state = {s: [st for st in stations if st.state == s] for s in STATES}
        self.customers = customers
        self.fleet = fleet
        self.pay_names = [p for p, _ in ref.SESSION_PAYMENT_METHODS]
        self.pay_cum = list(accumulate(w for _, w in ref.SESSION_PAYMENT_METHODS))

    def session(self, index: int, week_first: int, second: int, unknown: bool) -> dict[str, Any]:
        """One clean session starting ``second`` seconds into the week."""
        rng, fleet = self.rng, self.fleet
        day = week_first + second // 86400
        if unknown:
            model = rng.choice(fleet.models)
            vid, owner = vehicle_id(model, UNKNOWN_SERIAL_BASE + rng.randrange(10**8)), None
            station = rng.choice(self.stations)
        else:
            vehicle = rng.randrange(fleet.sold_before(day))
            model, buyer = fleet.models[fleet.model[vehicle]], fleet.buyer[vehicle]
            vid, owner = fleet.vehicle_id(vehicle), customer_id(buyer)
            local = self.by_state[STATES[self.customers.state[buyer]]]
            station = rng.choice(local if local and rng.random() < 0.85 else self.stations)
        if station.dcfc:
            energy = model.battery_capacity_kwh * (rng.uniform(0.7, 0.9) - rng.uniform(0.08, 0.4))
            power = min(station.max_power_kw, model.max_dc_kw) * rng.uniform(0.5, 0.75)
        else:
            energy = model.battery_capacity_kwh * rng.uniform(0.1, 0.6)
            power = min(station.max_power_kw, model.onboard_ac_kw) * rng.uniform(0.85, 0.95)
        duration = int(energy / power * 3600) + rng.randint(60, 900 if station.dcfc else 10800)
        payment = rng.choices(self.pay_names, cum_weights=self.pay_cum)[0]
        cost = energy * station.price_per_kwh * (0.8 if payment == "subscription" else 1.0)
        return {
            "session_id": f"CS-{index + 1:09d}", "station_id": station.station_id, "vehicle_id": vid,
            "customer_id": owner, "start_time": iso_timestamp(week_first, second),
            "end_time": iso_timestamp(week_first, second + duration), "energy_kwh": round(energy, 3),
            "cost_usd": round(cost, 2), "payment_method": payment, "port_number": rng.randint(1, station.num_ports),
        }


def generate_sessions(seed: int, counts: Counts, stations: list[Station], customers: CustomerIndex,
                      fleet: Fleet, output: Output) -> DatasetReport:
    """Write weekly session files; late sessions land in a later week's file."""
    rng = derive_rng(seed, "sessions")
    week_firsts = [to_day(SESSIONS_FIRST_WEEK) + 7 * w for w in range(SESSIONS_WEEKS)]
    per_week = split_counts(counts.sessions, [fleet.sold_before(d) * rng.uniform(0.9, 1.1) for d in week_firsts])
    plan = DirtPlan.build(rng, counts.sessions, DIRT_RATES["sessions"],
                          limits={"late_rows": counts.sessions - per_week[-1]})
    report = DatasetReport("sessions", generated=counts.sessions,
                           dirt={k: v for k, v in plan.counts.items() if k != "unknown_vehicle"},
                           violations={"unknown_vehicle": plan.counts.get("unknown_vehicle", 0)})
    maker = _SessionMaker(rng, stations, customers, fleet)
    carry: dict[int, list[dict[str, Any]]] = {}
    start = 0
    for week, size in enumerate(per_week):
        deferred = Deferred()
        for record in carry.pop(week, []):
            deferred.add(rng.randint(1, max(1, size)), record)
        seconds = sorted_offsets(rng, size, _WEEK_SECONDS)
        with RecordFile(output, sessions_key(week)) as out:
            for j, second in enumerate(seconds):
                kind = plan.kind(start + j)
                record = maker.session(start + j, week_firsts[week], second, kind == "unknown_vehicle")
                if _session_dirt(rng, kind, record, week, deferred, j, carry):
                    out.write(record)
                for pending in deferred.ready(j + 1):
                    out.write(pending)
            for pending in deferred.drain():
                out.write(pending)
        add_entry(report, out.entry())
        start += size
    return report


def _session_dirt(rng: random.Random, kind: str | None, record: dict[str, Any], week: int, deferred: Deferred,
                  j: int, carry: dict[int, list[dict[str, Any]]]) -> bool:
    """Apply a dirt kind in place; False when the session goes to a later file."""
    if kind is None or kind == "unknown_vehicle":
        return True
    if kind == "late_rows":
        carry.setdefault(min(SESSIONS_WEEKS - 1, week + rng.choice((1, 1, 2))), []).append(record)
        return False
    if kind == "duplicate_records":
        deferred.add(j + rng.randint(1, 40), dict(record))
    elif kind == "whitespace":
        record["payment_method"] = pad(rng, record["payment_method"])
    elif kind == "casing":
        record["payment_method"] = recase(rng, record["payment_method"])
    elif kind == "end_before_start":
        start = record["start_time"]
        record["end_time"], record["start_time"] = start, record["end_time"]
    elif kind == "non_positive_amount":
        if rng.random() < 0.5:
            record["energy_kwh"], record["cost_usd"] = 0.0, 0.0
        else:
            record["cost_usd"] = -record["cost_usd"]
    elif kind == "unparseable_timestamp":
        record["start_time"] = break_timestamp(rng, record["start_time"])
    return True
