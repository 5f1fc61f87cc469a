"""The benchmark suite: every part, its figures against their targets, one report.

Parts (``python -m tests.benchmarks --help``):

* streaming, on a private native stack (:mod:`tests.benchmarks.stack`):
  freshness and burst with MinIO's ``queued`` and ``direct`` event delivery,
  and in full mode the scale curve at 1, 2 and 4 listener instances (direct);
* bulk (:mod:`tests.benchmarks.bench_bulk`): our load against pyarrow's own
  CSV -> zstd Parquet on the same file, and in full mode at generator scales
  1, 10 and ~100;
* downstream (:mod:`tests.benchmarks.bench_orchestration`), when importable;
* ledger curve (:mod:`tests.benchmarks.bench_ledger`), full mode only.

A part that fails is reported (``errors``) and the others still run.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.services.minio import minio_client
from lakehouse.settings import Settings, load_settings
from tests.benchmarks import bench_bulk, bench_burst, bench_freshness
from tests.benchmarks.bench_bronze_csv import build_csv
from tests.benchmarks.figures import Figure, at_least, at_most, machine, make, now
from tests.benchmarks.stack import PROJECT, listeners, private_stack, scenario, switch_delivery, table_facts

log = logging.getLogger(__name__)
GIB_MB = 1024.0


@dataclass(frozen=True)
class Plan:
    """How big each part runs."""

    quick: bool
    uploads: int  # freshness: sequential uploads per mode
    burst_files: int
    instances: tuple[int, ...]  # listener instances of the scale curve (direct delivery)
    bulk_gb: float  # the headline bulk file
    bulk_scales: tuple[float, ...]  # further generator scales of the bulk curve
    drops: int  # downstream drops
    ledger_sizes: str  # "" = no ledger curve


QUICK = Plan(quick=True, uploads=10, burst_files=100, instances=(1,), bulk_gb=0.02, bulk_scales=(), drops=2, ledger_sizes="")
FULL = Plan(quick=False, uploads=100, burst_files=1000, instances=(1, 2, 4), bulk_gb=1.0, bulk_scales=(1, 10), drops=5,
            ledger_sizes="1000,10000,100000")


# ---- streaming ----------------------------------------------------------------------
def warm_up(settings: Settings, attempts: int = 12) -> None:
    """Load one file end to end first: table created, MinIO's Kafka producer connected.

    Right after MinIO (re)starts, its Kafka target is still connecting; in
    ``direct`` mode the events of that moment are lost (the periodic
    reconcile would load their files a minute later), so the warm-up retries.
    """
    client = minio_client(settings)
    for attempt in range(attempts):
        key = f"raw/ecoride/sales/bench/warmup/w{attempt:02d}.csv"
        data = bench_freshness.sales_csv(f"W{attempt:02d}", 1)
        client.put_object(settings.bucket, key, io.BytesIO(data), len(data))
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            if table_facts(settings, bench_freshness.TABLE)[0]:
                return
            time.sleep(0.5)
    raise RuntimeError(f"no warm-up file reached bronze in {attempts} attempts")


def _freshness_and_burst(settings: Settings, plan: Plan, name: str, count: int, logdir: Path) -> tuple[dict, dict]:
    """Both streaming measurements on one scenario (bucket, table, group) and one set of listeners."""
    scoped = scenario(settings, name)
    with listeners(scoped, count, logdir):
        warm_up(scoped)
        return bench_freshness.run(scoped, plan.uploads), bench_burst.run(scoped, plan.burst_files)


# The baseline of the listener's idle-gap flush: every batch lingers --max-batch-wait, as before it.
LINGERING = ("--batch-idle", "0")


def _freshness_lingering(settings: Settings, plan: Plan, name: str, logdir: Path) -> dict:
    scoped = scenario(settings, name)
    with listeners(scoped, 1, logdir, *LINGERING):
        warm_up(scoped)
        return bench_freshness.run(scoped, plan.uploads)


def streaming(base: Settings, plan: Plan, workdir: Path, stamp: dict[str, Any]) -> list[Figure]:
    figures: list[Figure] = []
    logdir = workdir / "listener-logs"
    with private_stack(base, workdir / "stack") as manager:
        for delivery in ("queued", "direct"):
            manager = switch_delivery(manager, delivery)
            counts = plan.instances if delivery == "direct" else (1,)
            for count in counts:
                fresh, burst = _freshness_and_burst(manager.settings, plan, f"{delivery[0]}{count}", count, logdir)
                if count == 1 and delivery == "direct":
                    fresh["lingering"] = _freshness_lingering(manager.settings, plan, "d1-linger", logdir)
                figures += _stream_figures(delivery, count, fresh, burst, stamp)
                print(f"  streaming {delivery} x{count}: {fresh} {burst}", file=sys.stderr, flush=True)
    return figures


FRESHNESS_TARGETS = {
    ("direct", "p50_s"): at_most(0.5, "s"), ("direct", "p95_s"): at_most(1.0, "s"), ("queued", "p50_s"): at_most(2.0, "s"),
}


def _stream_figures(delivery: str, count: int, fresh: dict, burst: dict, stamp: dict[str, Any]) -> list[Figure]:
    if count != 1:  # the scale curve: one figure of each per instance count
        return [
            make("scale", f"freshness p50, {delivery}, {count} listeners", fresh["p50_s"], "s", detail=fresh, **stamp),
            make("scale", f"burst, {delivery}, {count} listeners", burst["files_per_s"], "files/s", detail=burst, **stamp),
        ]
    lingering = fresh.get("lingering") or {}  # direct: the same uploads with every batch lingering 0.25 s
    out = [
        make("freshness", f"{delivery} {stat.split('_')[0]} ({fresh['uploads']} uploads)", fresh[stat], "s",
             FRESHNESS_TARGETS.get((delivery, stat)), detail=fresh, **stamp,
             **({"baseline": lingering[stat], "baseline_name": "batches always linger (--batch-idle 0)"}
                if stat in lingering else {}))
        for stat in ("p50_s", "p95_s", "max_s")
    ]
    upload_rate = round(burst["files"] / burst["upload_s"], 1) if burst["upload_s"] else None
    out += [
        make("burst", f"{delivery} {burst['files']} files: files/s into bronze", burst["files_per_s"], "files/s",
             at_least(200, "files/s"), baseline=upload_rate, baseline_name="MinIO PUTs alone", detail=burst, **stamp),
        make("burst", f"{delivery} {burst['files']} files: files per commit", burst["files_per_commit"], "files",
             at_least(20, "files"), detail=burst, **stamp),
    ]
    return out


# ---- bulk ---------------------------------------------------------------------------
def bulk(plan: Plan, workdir: Path, stamp: dict[str, Any]) -> list[Figure]:
    headline = bench_bulk.compare(build_csv(workdir, plan.bulk_gb))
    label = f"{headline['csv_mb']:,.0f} MB sales CSV"
    figures = [
        make("bulk", f"{label}: rows/s", headline["ours_rows_per_s"], "rows/s", baseline=headline["baseline_rows_per_s"],
             baseline_name="pyarrow CSV -> zstd Parquet", detail=headline, **stamp),
        make("bulk", f"{label}: ours / baseline", headline["ratio"], "x", at_least(0.7, "x"), detail=headline, **stamp),
        make("bulk", f"{label}: ours / baseline by CPU time", headline["cpu_ratio"], "x", at_least(0.7, "x"),
             baseline=None, detail=headline, **stamp),
        make("bulk", f"{label}: peak RSS", headline["ours_peak_rss_mb"], "MB", at_most(GIB_MB, "MB"),
             baseline=headline["baseline_peak_rss_mb"], baseline_name="pyarrow", detail=headline, **stamp),
    ]
    print(f"  bulk {label}: {headline}", file=sys.stderr, flush=True)
    for scale in plan.bulk_scales:
        result = bench_bulk.compare(bench_bulk.csv_for_scale(workdir, scale))
        figures.append(make("scale", f"bulk rows/s at generator scale {scale:g} ({result['csv_mb']:,.1f} MB)",
                            result["ours_rows_per_s"], "rows/s", baseline=result["baseline_rows_per_s"],
                            baseline_name="pyarrow", detail=result, **stamp))
        print(f"  bulk scale {scale:g}: {result}", file=sys.stderr, flush=True)
    if plan.bulk_scales:
        figures.append(make("scale", f"bulk rows/s at generator scale ~100 ({headline['csv_mb']:,.0f} MB)",
                            headline["ours_rows_per_s"], "rows/s", baseline=headline["baseline_rows_per_s"],
                            baseline_name="pyarrow", detail=headline, **stamp))
    return figures


# ---- downstream and ledger ----------------------------------------------------------
def downstream(plan: Plan, stamp: dict[str, Any]) -> list[Figure]:
    from tests.benchmarks import bench_orchestration  # noqa: PLC0415 - Dagster, only for this part

    result = bench_orchestration.run(n_drops=plan.drops, quick=plan.quick)
    result = {k: v for k, v in result.items() if k != "per_drop"}
    print(f"  downstream: {result}", file=sys.stderr, flush=True)
    return downstream_figures(result, stamp)


def downstream_figures(result: dict[str, Any], stamp: dict[str, Any]) -> list[Figure]:
    """The figures of one ``bench_orchestration.run`` result."""
    return [
        make("downstream", f"bronze commit -> gold p50 ({result['drops']} drops)", result["commit_to_gold_p50_s"], "s",
             at_most(15, "s"), detail=result, **stamp),
        # The ratio: what runs after a load now (the sensor's selection, dbt in the run worker)
        # against what the seed ran after every load (a full dbt build from the CLI).
        make("downstream", "the sensor's dbt step (selective, in the run worker)", result["selective_dbt_step_p50_s"], "s",
             baseline=result["full_dbt_build_p50_s"], baseline_name="full dbt build, CLI", detail=result, **stamp),
        make("downstream", "full dbt build (CLI) / the sensor's dbt step", result["full_dbt_build_vs_selective_dbt_step"],
             "x", at_least(3, "x"), detail=result, **stamp),
        make("downstream", "the sensor's whole Dagster run (created -> end)", result["selective_run_p50_s"], "s",
             baseline=result["full_dbt_build_p50_s"], baseline_name="full dbt build, CLI", detail=result, **stamp),
        make("downstream", "selective dbt build (CLI)", result["selective_dbt_cli_p50_s"], "s",
             baseline=result["full_dbt_build_p50_s"], baseline_name="full dbt build, CLI", detail=result, **stamp),
    ]


def ledger(plan: Plan, workdir: Path, stamp: dict[str, Any]) -> list[Figure]:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        out = Path(tmp) / "ledger.json"
        argv = [sys.executable, "-m", "tests.benchmarks.bench_ledger", "--sizes", plan.ledger_sizes,
                "--workdir", tmp, "--json", str(out)]
        proc = subprocess.run(argv, cwd=PROJECT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench_ledger failed:\n{proc.stderr[-3000:]}")
        results = json.loads(out.read_text())
    print(f"  ledger: {results}", file=sys.stderr, flush=True)
    figures = []
    for r in results:
        figures.append(make("ledger", f"load 500 new files, table of {r['size']:,} source files", r["new500_s"], "s",
                            baseline=r.get("old_check_new500_s"), baseline_name="old ledger's check alone",
                            detail=r, **stamp))
        figures.append(make("ledger", f"reconcile per object, {r['size']:,} source files", r["reconcile_us_per_object"],
                            "µs", baseline=r.get("old_reconcile_check_us_per_object"), baseline_name="old ledger",
                            detail=r, **stamp))
    return figures


# ---- the whole suite ----------------------------------------------------------------
PARTS = ("streaming", "bulk", "downstream", "ledger")


def run(plan: Plan, workdir: Path, parts: tuple[str, ...] = PARTS, shared: bool = True,
        after_part: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``parts``; the report (machine, date, figures, errors).

    ``after_part(report so far)`` is called after each part, so a long run that
    is stopped keeps the figures of the parts that ended.
    """
    stamp = {"machine": machine(shared), "date": now()}
    base = load_settings()
    workdir.mkdir(parents=True, exist_ok=True)
    steps: dict[str, Callable[[], list[Figure]]] = {
        "streaming": lambda: streaming(base, plan, Path(tempfile.mkdtemp(prefix="stream-", dir=workdir)), stamp),
        "bulk": lambda: bulk(plan, workdir, stamp),
        "downstream": lambda: downstream(plan, stamp),
        "ledger": lambda: ledger(plan, workdir, stamp) if plan.ledger_sizes else [],
    }
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    report: dict[str, Any] = {}
    for part in parts:
        started = time.monotonic()
        print(f"{part} ...", file=sys.stderr, flush=True)
        try:
            figures += steps[part]()
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others' figures
            errors[part] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        seconds[part] = round(time.monotonic() - started, 1)
        report = {"quick": plan.quick, "parts": list(parts), "part_seconds": seconds, **stamp,
                  "figures": [f.as_json() for f in figures], "errors": errors}
        if after_part is not None:
            after_part(report)
    return report


def figures_of(report: dict[str, Any]) -> list[Figure]:
    return [Figure(**f) for f in report["figures"]]


def part_of(figure: dict[str, Any]) -> str:
    """The part that made a figure (the scale curve's figures belong to streaming or bulk)."""
    if figure["group"] == "scale":
        return "bulk" if figure["name"].startswith("bulk") else "streaming"
    return {"freshness": "streaming", "burst": "streaming"}.get(figure["group"], figure["group"])


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report of parts run separately: each part's figures from the last report that ran it.

    The report keeps the first run's machine and date; every figure keeps its own.
    """
    owner = {part: index for index, r in enumerate(reports) for part in r["parts"]}
    parts = [p for p in PARTS if p in owner]
    return {
        "quick": reports[0]["quick"], "parts": parts,
        "part_seconds": {p: reports[owner[p]]["part_seconds"].get(p) for p in parts},
        "machine": reports[0]["machine"], "date": reports[0]["date"],
        "figures": [f for p in parts for f in reports[owner[p]]["figures"] if part_of(f) == p],
        "errors": {p: reports[owner[p]]["errors"][p] for p in parts if p in reports[owner[p]]["errors"]},
        "merged_from": [{"date": r["date"], "parts": r["parts"]} for r in reports],
    }
