"""Small shared helpers: seeded random streams, day arithmetic, ISO formatting.

Dates are handled as integer day offsets from ``EPOCH`` inside the generator:
they fit in compact ``array('H')`` columns, which keeps the sold-vehicle index
small at large scales, and they format quickly through a cache.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

EPOCH = date(2020, 1, 1)


def derive_rng(seed: int, stream: str) -> random.Random:
    """Return an independent random stream for one dataset.

    Each dataset draws from its own stream, so generating only some datasets
    (``--only sales``) yields byte-identical files to a full run. String seeds
    are hashed with SHA-512 by ``random``, independent of ``PYTHONHASHSEED``.
    """
    return random.Random(f"futuremobility/{seed}/{stream}")


def to_day(value: date) -> int:
    """Day offset of ``value`` from ``EPOCH``."""
    return (value - EPOCH).days


@lru_cache(maxsize=8192)
def to_date(day: int) -> date:
    """Calendar date of a day offset."""
    return EPOCH + timedelta(days=day)


@lru_cache(maxsize=8192)
def iso_date(day: int) -> str:
    """ISO-8601 date (``YYYY-MM-DD``) of a day offset."""
    return to_date(day).isoformat()


def iso_timestamp(day: int, seconds: int) -> str:
    """ISO-8601 UTC timestamp for a day offset plus seconds (may exceed a day)."""
    extra, seconds = divmod(seconds, 86400)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{iso_date(day + extra)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def date_span(first: date, last: date) -> tuple[int, int]:
    """Day offset of ``first`` and the number of days from ``first`` to ``last`` inclusive."""
    return to_day(first), (last - first).days + 1


def add_months(value: date, months: int) -> date:
    """First day of the month ``months`` after the month of ``value``."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_starts(first: date, count: int) -> list[date]:
    """``count`` consecutive month starts beginning with the month of ``first``."""
    return [add_months(first, i) for i in range(count)]


def split_counts(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights``.

    Largest-remainder rounding, ties broken by position, so the parts always
    sum to ``total`` and the split is deterministic.
    """
    weight_sum = sum(weights)
    raw = [total * w / weight_sum for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def sorted_offsets(rng: random.Random, count: int, span: int) -> list[int]:
    """``count`` sorted random integers in ``[0, span)``: event times in order."""
    return sorted(rng.randrange(span) for _ in range(count))


def money(value: float) -> str:
    """Format an amount in USD with exactly two decimals."""
    return f"{value:.2f}"
