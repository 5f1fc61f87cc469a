"""One figure of the suite: value, unit, target, pass/fail, baseline, and where it ran.

Every figure in ``bench.json`` carries the machine (cores, memory, load when
the suite started) and the date, so a figure copied elsewhere still says what
it was measured on.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


def machine(shared: bool) -> dict[str, Any]:
    """Cores, memory and load of this machine right now."""
    memory_kb = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "memory_gb": round(memory_kb / 2**20, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "shared": shared,  # other work ran on the machine at the same time
    }


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Figure:
    """A measured value; ``ok`` is None when the figure has no target."""

    group: str  # freshness, burst, bulk, downstream, scale, ledger
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    baseline: float | None = None
    baseline_name: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def row(self) -> list[str]:
        verdict = {True: "pass", False: "FAIL", None: ""}[self.ok]
        base = f"{_fmt(self.baseline)} ({self.baseline_name})" if self.baseline is not None else ""
        return [self.group, self.name, f"{_fmt(self.value)} {self.unit}".strip(), base, self.target, verdict]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def at_most(limit: float, unit: str) -> tuple[str, Any]:
    return f"<= {limit:g} {unit}", lambda v: v <= limit


def at_least(limit: float, unit: str) -> tuple[str, Any]:
    return f">= {limit:g} {unit}", lambda v: v >= limit


def make(group: str, name: str, value: float, unit: str, rule: tuple[str, Any] | None = None, **extra: Any) -> Figure:
    """A figure, judged by ``rule`` (from :func:`at_most` / :func:`at_least`) when there is one."""
    target, ok = ("", None) if rule is None else (rule[0], bool(rule[1](value)))
    return Figure(group=group, name=name, value=value, unit=unit, target=target, ok=ok, **extra)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(figures: list[Figure]) -> str:
    """A plain-text table (also valid Markdown)."""
    header = ["group", "figure", "ours", "baseline (same run)", "target", ""]
    rows = [header, ["---"] * len(header)] + [f.row() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of non-empty ``values``, interpolated linearly between ranks."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
