"""Runs the dataset generators in dependency order and writes the manifest.

vehicles -> customers -> sales -> (reviews, sessions, vehicle_health);
stations -> sessions; vehicles -> documents. A dataset that is not asked for
but is needed by one that is runs with a disabled output (nothing written).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from data.generator.chargenet import generate_sessions, generate_stations
from data.generator.config import DIRT_RATES, counts_for_scale
from data.generator.documents import generate_documents
from data.generator.entities import build_models, generate_customers, write_vehicles
from data.generator.reviews import generate_reviews
from data.generator.sales import generate_sales
from data.generator.vehicle_health import generate_vehicle_health
from data.generator.writers import DatasetReport, Output

logger = logging.getLogger(__name__)

DATASETS = ("vehicles", "customers", "sales", "reviews", "stations", "sessions", "vehicle_health", "documents")
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_NEEDS = {
    "customers": {"customers"},
    "sales": {"customers", "sales"},
    "reviews": {"customers", "sales", "reviews"},
    "stations": {"stations"},
    "sessions": {"customers", "sales", "stations", "sessions"},
    "vehicle_health": {"customers", "sales", "vehicle_health"},
    "vehicles": set(),
    "documents": {"documents"},
}


def check_request(scale: float, only: Iterable[str] | None) -> set[str]:
    """Validate the scale and dataset names; return the datasets to write.

    Raises:
        ValueError: with a message that says what to pass instead.
    """
    counts_for_scale(scale)
    wanted = set(DATASETS if only is None else only)
    unknown = wanted - set(DATASETS)
    if unknown:
        raise ValueError(f"unknown dataset(s) {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    if not wanted:
        raise ValueError(f"no dataset selected; choose from {', '.join(DATASETS)}")
    return wanted


class _Run:
    """Times each dataset and keeps the reports of those that are written."""

    def __init__(self, out_dir: Path, wanted: set[str],
                 progress: Callable[[DatasetReport, float], None] | None) -> None:
        self.out_dir = out_dir
        self.wanted = wanted
        self.progress = progress
        self.reports: list[DatasetReport] = []

    def output(self, name: str) -> Output:
        """Where a dataset writes: disabled when it only runs for its side effects."""
        return Output(self.out_dir, enabled=name in self.wanted)

    def __call__(self, name: str, func: Callable[..., Any], *args: Any) -> Any:
        """Run one dataset generator; its last return value is its report."""
        started = time.perf_counter()
        result = func(*args, self.output(name))
        report = result[-1] if isinstance(result, tuple) else result
        if name in self.wanted:
            self.reports.append(report)
            if self.progress is not None:
                self.progress(report, time.perf_counter() - started)
        return result[0] if isinstance(result, tuple) else None


def generate(out_dir: Path, seed: int = 7, scale: float = 1.0, only: Iterable[str] | None = None,
             progress: Callable[[DatasetReport, float], None] | None = None) -> dict[str, Any]:
    """Generate the landing layout under ``out_dir`` and return the manifest.

    Args:
        out_dir: root folder; files go to ``out_dir/raw/...`` and the manifest
            to ``out_dir/manifest.json``. Existing files are overwritten, stale
            ones are not removed (the CLI's ``--force`` clears ``raw/`` first).
        seed: the only source of randomness; same seed and scale, same bytes.
        scale: row-count multiplier (see ``config.counts_for_scale``).
        only: dataset names to write (default: all). Datasets they depend on
            are generated in memory but not written.
        progress: called after each written dataset with its report and seconds.

    Raises:
        ValueError: unknown dataset name or a scale that is not positive.
    """
    wanted = check_request(scale, only)
    needed = set().union(*(_NEEDS[name] for name in wanted))
    counts = counts_for_scale(scale)
    models = build_models(seed)
    run = _Run(out_dir, wanted, progress)
    if "vehicles" in wanted:
        run("vehicles", write_vehicles, models)
    customers = run("customers", generate_customers, seed, counts) if "customers" in needed else None
    track = bool(wanted & {"reviews", "sessions", "vehicle_health"})
    fleet = run("sales", generate_sales, seed, counts, models, customers, track) if "sales" in needed else None
    if "reviews" in wanted:
        run("reviews", generate_reviews, seed, counts, models, customers, fleet)
    stations = run("stations", generate_stations, seed, counts) if "stations" in needed else None
    if "sessions" in wanted:
        run("sessions", generate_sessions, seed, counts, stations, customers, fleet)
    if "vehicle_health" in wanted:
        run("vehicle_health", generate_vehicle_health, seed, counts, customers, fleet)
    if "documents" in wanted:
        run("documents", generate_documents, models)
    manifest = build_manifest(seed, scale, run.reports)
    write_manifest(out_dir, manifest)
    return manifest


def build_manifest(seed: int, scale: float, reports: list[DatasetReport]) -> dict[str, Any]:
    """Machine-readable summary: files, record counts, dirt and violation counts."""
    datasets: dict[str, Any] = {}
    for report in sorted(reports, key=lambda r: DATASETS.index(r.name)):
        entry: dict[str, Any] = {
            "generated": report.generated,
            "records_in_files": report.records,
            "files": [f.as_dict() for f in sorted(report.files, key=lambda f: f.key)],
            "dirt": dict(report.dirt),
            "dirt_rates": dict(DIRT_RATES.get(report.name, {})),
            "shape": dict(sorted(report.shape.items())),
            "violations": dict(report.violations),
        }
        entry.update(report.extra)
        datasets[report.name] = entry
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": "python -m data.generate",
        "seed": seed,
        "scale": scale,
        "datasets": datasets,
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` with a stable key order and LF line endings."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MANIFEST_NAME
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(json.dumps(manifest, indent=2) + "\n")
    return path
