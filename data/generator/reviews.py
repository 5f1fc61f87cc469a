"""Product reviews: quarterly JSON files in four shapes (array, lines, gzipped).

Most reviews come from buyers of the reviewed model, written after the sale;
a documented few come from customers who never bought it or from accounts
that no longer exist. Optional fields are left out of the object, not null.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from data.generator import reference as ref
from data.generator.config import (
    DIRT_RATES,
    REVIEW_ABSENT_RATES,
    REVIEW_EMPTY_TAGS_RATE,
    REVIEWS_FIRST_QUARTER,
    REVIEWS_QUARTERS,
    Counts,
)
from data.generator.core import add_months, derive_rng, iso_date, sorted_offsets, split_counts, to_date, to_day
from data.generator.dirt import Deferred, DirtPlan, break_date, pad, recase
from data.generator.entities import CustomerIndex, VehicleModel, customer_id
from data.generator.sales import Fleet
from data.generator.writers import DatasetReport, Output, RecordFile, add_entry

# Early quarters are small and stay plain; later, bigger ones are gzipped.
_PLAIN_QUARTERS = 4
_RATINGS = (5, 4, 3, 2, 1)
_RATING_WEIGHTS = (40, 30, 15, 8, 7)
_TITLES = {
    5: ("Fantastic EV", "Best car I have owned", "Love it", "Exceeded expectations"),
    4: ("Great value", "Very happy overall", "Solid choice", "Almost perfect"),
    3: ("Good but not great", "Mixed feelings", "Decent daily driver"),
    2: ("Disappointed", "Expected more", "Not as advertised"),
    1: ("Would not buy again", "Terrible experience", "Avoid"),
}
_OPENERS = {
    "pos": ("Absolutely love my {name}.", "The {name} has been a joy to drive every day.",
            "After months with the {name} I would buy it again.", "The {name} exceeded my expectations."),
    "mid": ("The {name} is a decent car with some rough edges.", "Mixed feelings about the {name} so far.",
            "The {name} does the job, nothing more."),
    "neg": ("I regret buying the {name}.", "The {name} has been a letdown.",
            "Too many problems with my {name}."),
}
_ASPECTS = {
    "range": ("Real-world range is close to the advertised {range} km.",
              "Range drops well below {range} km on the highway in winter."),
    "charging": ("Fast charging from 10 to 80% really takes about {charge} minutes.",
                 "Fast charging often takes much longer than the quoted {charge} minutes."),
    "comfort": ("Seats are comfortable on long trips.", "The ride is harsh on rough roads."),
    "software": ("Over-the-air updates keep adding features.", "The infotainment freezes now and then."),
    "build quality": ("Panel gaps are tight and nothing rattles.", "Some interior trim came loose."),
    "price": ("Good value for the money.", "Too expensive for what you get."),
    "service": ("The service center was quick and friendly.", "Waited three weeks for a service slot."),
    "performance": ("Acceleration is addictive.", "Feels sluggish when fully loaded."),
    "interior": ("The cabin feels modern and roomy.", "Too many hard plastics in the cabin."),
    "noise": ("It is whisper quiet at highway speed.", "Wind noise is loud above 110 km/h."),
    "cargo space": ("There is plenty of cargo space for a family.", "The trunk is smaller than it looks."),
    "reliability": ("Not a single fault in the first year.", "It has been back to the shop twice."),
}


@dataclass(frozen=True)
class _Quarter:
    index: int
    key: str
    first_day: int
    days: int


def _quarters() -> list[_Quarter]:
    quarters = []
    for q in range(REVIEWS_QUARTERS):
        start = add_months(REVIEWS_FIRST_QUARTER, 3 * q)
        suffix = (".json", ".jsonl")[q % 2] + ("" if q < _PLAIN_QUARTERS else ".gz")
        name = f"reviews_{start.year}-Q{(start.month - 1) // 3 + 1}{suffix}"
        days = to_day(add_months(start, 3)) - to_day(start)
        quarters.append(_Quarter(q, f"raw/ecoride/reviews/{name}", to_day(start), days))
    return quarters


def generate_reviews(seed: int, counts: Counts, models: list[VehicleModel], customers: CustomerIndex,
                     fleet: Fleet, output: Output) -> DatasetReport:
    """Write the quarterly review files; counts violations as written."""
    rng = derive_rng(seed, "reviews")
    quarters = _quarters()
    earliest = fleet.sale_day[0] + 7
    weights = [max(1, fleet.sold_before(q.first_day + q.days)) for q in quarters]
    per_quarter = split_counts(counts.reviews, weights)
    plan = DirtPlan.build(rng, counts.reviews, DIRT_RATES["reviews"])
    report = DatasetReport("reviews", generated=counts.reviews,
                           dirt={k: v for k, v in plan.counts.items() if k not in ("non_buyer", "unknown_customer")})
    maker = _ReviewMaker(rng, models, customers, fleet)
    start = 0
    for quarter, size in zip(quarters, per_quarter, strict=True):
        first = max(quarter.first_day, earliest)
        span = quarter.first_day + quarter.days - first
        days = [first + d for d in sorted_offsets(rng, size, span)]
        deferred = Deferred()
        with RecordFile(output, quarter.key) as out:
            for j, day in enumerate(days):
                record = maker.review(start + j, day, plan.kind(start + j), report, deferred, j)
                _write_counted(out, record, report)
                for copy in deferred.ready(j + 1):
                    _write_counted(out, copy, report)
            for copy in deferred.drain():
                _write_counted(out, copy, report)
        add_entry(report, out.entry())
        start += size
    return report


def _write_counted(out: RecordFile, record: dict[str, Any], report: DatasetReport) -> None:
    """Write a review and count its shape: absent optional fields, empty tags."""
    for name in REVIEW_ABSENT_RATES:
        if name not in record:
            report.bump(report.shape, f"absent_{name}")
    if record.get("tags") == []:
        report.bump(report.shape, "empty_tags")
    out.write(record)


class _ReviewMaker:
    """Builds one review object per call from the fleet and customer index."""

    def __init__(self, rng: random.Random, models: list[VehicleModel], customers: CustomerIndex,
                 fleet: Fleet) -> None:
        self.rng = rng
        self.models = models
        self.customers = customers
        self.fleet = fleet
        self.popularity = [m.popularity for m in models]

    def review(self, index: int, day: int, kind: str | None, report: DatasetReport,
               deferred: Deferred, position: int) -> dict[str, Any]:
        """One review; applies the planned dirt kind and tallies violations."""
        rng = self.rng
        if kind == "unknown_customer":
            who, model, verified = f"CUST-{len(self.customers) + 1 + rng.randrange(100_000):06d}", self._model(), False
        elif kind == "non_buyer":
            who, model = self._non_buyer(day)
            verified = False
        else:
            vehicle = rng.randrange(self.fleet.sold_before(day - 6))
            who = customer_id(self.fleet.buyer[vehicle])
            model, verified = self.models[self.fleet.model[vehicle]], True
        if kind in ("unknown_customer", "non_buyer"):
            report.bump(report.violations, kind)
        record = self._record(index, model, who, day, verified)
        self._apply_dirt(kind, record, day, deferred, position)
        return record

    def _model(self) -> VehicleModel:
        return self.rng.choices(self.models, weights=self.popularity)[0]

    def _non_buyer(self, day: int) -> tuple[str, VehicleModel]:
        """A customer signed up by ``day`` who never bought the chosen model."""
        rng = self.rng
        pool = max(1, self.customers.signed_up_by(day))
        for _ in range(1000):
            buyer, model = rng.randrange(pool), self._model()
            if not self.customers.bought_models[buyer] >> model.index & 1:
                return customer_id(buyer), model
        raise RuntimeError("no non-buyer found: scale too small for the review mix")

    def _record(self, index: int, model: VehicleModel, who: str, day: int, verified: bool) -> dict[str, Any]:
        rng = self.rng
        rating = rng.choices(_RATINGS, weights=_RATING_WEIGHTS)[0]
        tags = rng.sample(ref.REVIEW_TAGS, rng.randint(1, 4))
        record: dict[str, Any] = {"review_id": f"REV-{index + 1:07d}", "model_id": model.model_id,
                                  "customer_id": who, "rating": rating}
        if rng.random() >= REVIEW_ABSENT_RATES["title"]:
            record["title"] = rng.choice(_TITLES[rating])
        record["review_text"] = _text(rng, model, rating, tags)
        record["review_date"] = iso_date(day)
        if rng.random() >= REVIEW_ABSENT_RATES["verified_purchase"]:
            record["verified_purchase"] = verified
        if rng.random() >= REVIEW_ABSENT_RATES["helpful_votes"]:
            record["helpful_votes"] = int(rng.expovariate(1 / 6))
        if rng.random() >= REVIEW_ABSENT_RATES["tags"]:
            record["tags"] = [] if rng.random() < REVIEW_EMPTY_TAGS_RATE else tags
        return record

    def _apply_dirt(self, kind: str | None, record: dict[str, Any], day: int, deferred: Deferred,
                    position: int) -> None:
        rng = self.rng
        if kind == "duplicate_records":
            deferred.add(position + rng.randint(1, 30), dict(record))
        elif kind == "unparseable_date":
            record["review_date"] = break_date(rng, to_date(day))
        elif kind == "inconsistent_tags":
            tags = list(record.get("tags") or rng.sample(ref.REVIEW_TAGS, 2))
            i = rng.randrange(len(tags))
            tags[i] = pad(rng, tags[i]) if rng.random() < 0.4 else recase(rng, tags[i])
            record["tags"] = tags


def _text(rng: random.Random, model: VehicleModel, rating: int, tags: list[str]) -> str:
    """Two to four sentences whose tone follows the rating."""
    tone = "pos" if rating >= 4 else "mid" if rating == 3 else "neg"
    values = {"name": model.model_name, "range": model.range_km, "charge": model.charge_time_fast_min}
    sentences = [rng.choice(_OPENERS[tone]).format(**values)]
    for tag in tags[:3]:
        good = rating >= 4 or (rating == 3 and rng.random() < 0.5)
        sentences.append(_ASPECTS[tag][0 if good else 1].format(**values))
    return " ".join(sentences)

