"""Row counts per scale, the timeline, and the documented dirt proportions.

Everything that data/README.md quotes as a number lives here, so the README,
the manifest and the tests all read one source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

# Row counts at scale 1 (the committed sample).
BASE_COUNTS: dict[str, int] = {
    "customers": 2_000,
    "sales": 8_000,
    "stations": 150,
    "sessions": 25_000,
    "reviews": 3_000,
    "vehicle_health": 10_000,
}
# Floors so that tiny fractional scales still exercise every code path.
MIN_COUNTS: dict[str, int] = {
    "customers": 40,
    "sales": 120,
    "stations": 12,
    "sessions": 200,
    "reviews": 60,
    "vehicle_health": 100,
}

# Timeline of the fictional company.
SIGNUP_FIRST = date(2022, 1, 1)
SIGNUP_LAST = date(2024, 12, 31)
SALES_FIRST_MONTH = date(2023, 1, 1)
SALES_MONTHS = 24
REVIEWS_FIRST_QUARTER = date(2023, 1, 1)
REVIEWS_QUARTERS = 9
STATIONS_OPENED_FIRST = date(2018, 1, 1)
STATIONS_OPENED_LAST = date(2023, 12, 31)
SESSIONS_FIRST_WEEK = date(2024, 1, 1)  # a Monday
SESSIONS_WEEKS = 52
SESSIONS_PLAIN_WEEKS = 4  # later weekly files are gzipped
HEALTH_FIRST_MONTH = date(2023, 2, 1)
HEALTH_MONTHS = 23

# Fixed so that PDF bytes depend on the seed only.
PDF_CREATION_DATE = datetime(2025, 1, 1, tzinfo=UTC)

# Injected dirt: fraction of the dataset's generated records. Each record gets
# at most one kind; counts are exact: max(1, round(rate * records)).
DIRT_RATES: dict[str, dict[str, float]] = {
    "customers": {
        "duplicate_rows": 0.01,
        "whitespace": 0.02,
        "casing": 0.02,
        "unparseable_date": 0.005,
        "missing_phone": 0.03,
    },
    "sales": {
        "restated_rows": 0.005,
        "late_rows": 0.005,
        "duplicate_rows": 0.005,
        "whitespace": 0.015,
        "casing": 0.015,
        "unparseable_date": 0.001,
        "non_positive_amount": 0.002,
    },
    "reviews": {
        "duplicate_records": 0.005,
        "inconsistent_tags": 0.03,
        "unparseable_date": 0.003,
        "non_buyer": 0.03,
        "unknown_customer": 0.005,
    },
    "stations": {
        "duplicate_records": 0.01,
        "whitespace": 0.02,
        "casing": 0.03,
    },
    "sessions": {
        "late_rows": 0.005,
        "duplicate_records": 0.004,
        "whitespace": 0.008,
        "casing": 0.008,
        "end_before_start": 0.003,
        "non_positive_amount": 0.002,
        "unparseable_timestamp": 0.001,
        "unknown_vehicle": 0.002,
    },
    "vehicle_health": {
        "duplicate_records": 0.005,
        "model_id_casing": 0.005,
        "missing_performance": 0.01,
        "unparseable_timestamp": 0.001,
    },
}

# Optional JSON fields: probability that a record leaves the key out entirely.
REVIEW_ABSENT_RATES: dict[str, float] = {
    "title": 0.10,
    "verified_purchase": 0.15,
    "helpful_votes": 0.20,
    "tags": 0.10,
}
REVIEW_EMPTY_TAGS_RATE = 0.15


@dataclass(frozen=True)
class Counts:
    """Number of generated records per dataset (before injected copies)."""

    customers: int
    sales: int
    stations: int
    sessions: int
    reviews: int
    vehicle_health: int


def sales_multiplier(scale: float) -> float:
    """Multiplier for sales rows: linear up to 1, ``scale ** 1.5`` above.

    The benchmarks need at least 1 GB of sales CSV at scale 100, i.e. about
    8 million rows, while the committed sample keeps 8,000. Linear scaling
    would give 100 MB, so sales grow as scale * sqrt(scale) above scale 1
    (customers grow linearly: more repeat and fleet buyers at large scales).
    """
    return scale * max(1.0, math.sqrt(scale))


def counts_for_scale(scale: float) -> Counts:
    """Row counts for a scale factor (> 0); vehicle models stay at 12."""
    if not 0 < scale < float("inf"):
        raise ValueError(f"scale must be a positive number, got {scale!r}; e.g. --scale 1 or --scale 0.1")
    values = {}
    for name, base in BASE_COUNTS.items():
        factor = sales_multiplier(scale) if name == "sales" else scale
        values[name] = max(MIN_COUNTS[name], round(base * factor))
    return Counts(**values)


def dirt_count(rate: float, records: int) -> int:
    """Exact number of records that get a dirt kind of the given rate."""
    if rate <= 0 or records <= 0:
        return 0
    return max(1, round(rate * records))
