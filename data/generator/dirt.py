"""Deliberate dirt: which records get which flaw, and the flaws themselves.

A ``DirtPlan`` assigns each dirty record exactly one kind, so the counts in
the manifest are exact and every kind can be recognised on its own by the
tests (and by silver). Proportions live in ``config.DIRT_RATES``.
"""

from __future__ import annotations

import heapq
import random
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from data.generator.config import dirt_count


@dataclass
class DirtPlan:
    """Record index -> dirt kind, plus the exact count per kind.

    Indices are kept in a sorted ``array('I')`` with a parallel array of kind
    codes (5 bytes per dirty record), so a plan over millions of sales rows
    stays small; lookups bisect.
    """

    indices: array[int]
    codes: array[int]
    names: list[str]
    counts: dict[str, int]

    @classmethod
    def build(
        cls,
        rng: random.Random,
        records: int,
        rates: Mapping[str, float],
        limits: Mapping[str, int] | None = None,
    ) -> DirtPlan:
        """Plan ``max(1, round(rate * records))`` records per kind (see ``draw``)."""
        return cls.draw(rng, records, {kind: dirt_count(rate, records) for kind, rate in rates.items()}, limits)

    @classmethod
    def draw(
        cls,
        rng: random.Random,
        records: int,
        counts: Mapping[str, int],
        limits: Mapping[str, int] | None = None,
    ) -> DirtPlan:
        """Draw disjoint record indices for every kind.

        Args:
            rng: the dataset's random stream.
            records: number of generated records, indexed 0..records-1.
            counts: kind -> number of records; kinds are drawn in this order.
            limits: kind -> exclusive upper bound on the index, for kinds that
                need a later file (a late or restated row cannot come from the
                last file).
        """
        limits = limits or {}
        taken: dict[int, int] = {}
        drawn: dict[str, int] = {}
        for code, (kind, count) in enumerate(counts.items()):
            population = min(limits.get(kind, records), records)
            wanted = min(count, max(0, population - len(taken)))
            candidates = rng.sample(range(population), min(population, wanted + len(taken)))
            chosen = [i for i in candidates if i not in taken][:wanted]
            taken.update((index, code) for index in chosen)
            drawn[kind] = len(chosen)
        ordered = sorted(taken)
        return cls(array("I", ordered), array("B", (taken[i] for i in ordered)), list(counts), drawn)

    def kind(self, index: int) -> str | None:
        """The dirt kind of record ``index``, or None for a clean record."""
        pos = bisect_left(self.indices, index)
        if pos < len(self.indices) and self.indices[pos] == index:
            return self.names[self.codes[pos]]
        return None


def pad(rng: random.Random, value: str) -> str:
    """Add stray leading and/or trailing spaces (keeps the casing)."""
    left, right = rng.choice(((" ", ""), ("", " "), ("  ", " "), ("", "  ")))
    return f"{left}{value}{right}"


def recase(rng: random.Random, value: str) -> str:
    """Return ``value`` in a different casing style (never equal to ``value``).

    Single-case values (``loan``, ``TX``) may come back upper, lower or title
    case; mixed-case names (``San Jose``) come back all upper or all lower, so a
    reader can always tell the variant from the canonical spelling.
    """
    styles = [value.upper(), value.lower()]
    if value in styles:
        styles.append(value.title())
    return rng.choice([v for v in styles if v != value])


def break_date(rng: random.Random, value: date) -> str:
    """A date string that a strict ISO-8601 parser rejects."""
    style = rng.randrange(4)
    if style == 0:
        return f"{value.year}-02-{rng.choice((30, 31))}"
    if style == 1:
        return f"{value.year}-13-{value.day:02d}"
    if style == 2:
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return rng.choice(("N/A", "unknown", "TBD"))


def break_timestamp(rng: random.Random, iso: str) -> str:
    """A timestamp string that ``datetime.fromisoformat`` rejects."""
    day, clock = iso[:10], iso[11:19]
    style = rng.randrange(3)
    if style == 0:
        return f"{day[:4]}-02-30T{clock}Z"
    if style == 1:
        return f"{day[8:10]}/{day[5:7]}/{day[:4]} {clock[:5]}"
    return f"{day}T{int(clock[:2]) + 24}:{clock[3:]}Z"


@dataclass(order=True)
class _Pending:
    due: int
    seq: int
    item: Any = field(compare=False)


class Deferred:
    """Rows to emit later in the same file (duplicate copies, late arrivals).

    ``due`` is the number of fresh rows written before the item goes out;
    ties keep insertion order, so output is deterministic.
    """

    def __init__(self) -> None:
        self._heap: list[_Pending] = []
        self._seq = 0

    def add(self, due: int, item: Any) -> None:
        """Schedule ``item`` once ``due`` fresh rows have been written."""
        heapq.heappush(self._heap, _Pending(due, self._seq, item))
        self._seq += 1

    def ready(self, written: int) -> Iterator[Any]:
        """Pop every item due at or before ``written`` fresh rows."""
        while self._heap and self._heap[0].due <= written:
            yield heapq.heappop(self._heap).item

    def drain(self) -> Iterator[Any]:
        """Pop everything left, in order."""
        while self._heap:
            yield heapq.heappop(self._heap).item
