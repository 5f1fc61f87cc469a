"""Benchmark: `dbt build` on ~9 M bronze sales, full and after one 300-row file, time and peak RSS.

    python -m tests.benchmarks.bench_transform [--scale 104] [--workdir DIR] [--json FILE] [--keep]

Bronze (embedded mode: SQLite catalog, DuckDB silver in the state dir) holds
the mock data generator's sales at ``--scale`` (104 gives 9.04 M rows in 25
monthly CSVs, 1.15 GB, as in bench_bronze_csv), the customers at the same
scale (the sales reference them: with the sample's 2,000 customers the
relationship tests would fail and skip gold), and the rest of the committed
sample (vehicles, stations, sessions, reviews, health logs, documents). The
generator runs once per work dir, in a child process; its output is reused.

Then, each as ``lakehouse transform`` runs it (``warehouse.dbt.run_dbt``'s
command and environment: ``dbt build``, every model and test):

* (a) the full build on a fresh state dir;
* (b) the incremental build after one more sales file of 300 new sales;
* (c) after another such file, the build the Dagster sensor runs: only the
  models downstream of bronze sales (``--select source:bronze.ecoride_sales+``).

Wall time and the peak RSS of the dbt process (``os.wait4``'s ``ru_maxrss``:
the child and the descendants it waited for) are measured per build;
``warehouse.dbt.publish`` (the copy ``lakehouse query`` reads) is timed apart, and
after (a) also its baseline: the same copy through DuckDB's ``COPY FROM DATABASE``
(how it published until 2026-12-07, and still its path when a ``.wal`` is left).
Targets: (b) at least 10x faster than (a), peak RSS at most 1 GiB in both.
Exits 1 if a build fails, the row counts are off, or a target is missed.
Not part of the default test run (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from ingestion.loader import BronzeLoader
from ingestion.storage import LocalObjectStore
from lakehouse.settings import Settings, load_settings
from warehouse.dbt import DATABASE, _copy_through_duckdb, dbt_command, dbt_environment, duckdb_path, project_dir, publish

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SCALED = ("ecoride/sales", "ecoride/customers")  # generated at --scale; everything else from the sample
NEW_FILE = "raw/ecoride/sales/sales_2025-01.csv"
NEW_ROWS = 300
GIB = 1 << 30
SPEEDUP_TARGET = 10.0
SENSOR_SELECTION = "source:bronze.ecoride_sales+"  # what bronze_sensor selects after a sales commit


def generated(workdir: Path, dataset: str, scale: float) -> Path:
    """``data.generate --only <dataset>`` at ``scale`` into ``workdir/gen-<dataset>`` (once)."""
    out = workdir / f"gen-{dataset}"
    manifest = out / "manifest.json"
    if not (manifest.is_file() and json.loads(manifest.read_text())["scale"] == scale):
        print(f"generating {dataset} at scale {scale:g} into {out} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "data.generate", "--out", str(out), "--scale", f"{scale:g}",
                        "--only", dataset, "--force"], check=True)
    return out


def bronze_files(workdir: Path, scale: float) -> dict[str, Path]:
    """Object key -> local file: scaled sales and customers, the sample for the rest."""
    files = {p.relative_to(SAMPLE).as_posix(): p for p in (SAMPLE / "raw").rglob("*") if p.is_file()}
    files = {k: p for k, p in files.items() if not any(k.startswith(f"raw/{d}/") for d in SCALED)}
    for dataset in ("sales", "customers"):
        root = generated(workdir, dataset, scale)
        files.update({p.relative_to(root).as_posix(): p for p in (root / "raw").rglob("*") if p.is_file()})
    return files


def new_sales_file(last_month: Path, rows: int, batch: int = 9) -> bytes:
    """``rows`` new sales (new sale and vehicle ids, January 2025) cut from the last generated month."""
    with last_month.open(newline="") as src:
        reader = csv.DictReader(src)
        picked = [row for _, row in zip(range(rows), reader)]
        fields = reader.fieldnames
    assert fields is not None and len(picked) == rows
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(picked, 1):
        writer.writerow({**row, "sale_id": f"SALE-{batch}{n:07d}", "vehicle_id": f"{row['vehicle_id'][:8]}{batch}{n:08d}",
                         "sale_date": f"2025-01-{1 + n % 28:02d}"})
    return out.getvalue().encode()


def load(settings: Settings, store: LocalObjectStore, files: dict[str, Path]) -> float:
    """Link the files into the landing folder and load them into bronze; returns seconds."""
    for key, path in files.items():
        target = store.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path.resolve())
    started = time.perf_counter()
    outcomes = BronzeLoader(settings, store=store).load([store.stat(k) for k in sorted(files)])
    bad = [o for o in outcomes if o.outcome != "loaded"]
    if bad:
        raise SystemExit(f"bronze load failed: {bad[:3]}")
    return time.perf_counter() - started


def dbt_build(settings: Settings, log: Path, select: str | None = None) -> dict[str, Any]:
    """``dbt build`` as ``lakehouse transform`` starts it; wall seconds and the child's peak RSS.

    The target path is the work dir's own (dbt's partial-parse state carries from
    (a) to (b) as between two ``lakehouse transform`` runs, untouched by other dbt runs).
    """
    selection = ["--select", select] if select else []
    command = dbt_command(["build", *selection, "--target", "duckdb", "--target-path", str(log.parent / "dbt-target")],
                          settings)
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, env=dbt_environment(settings, "duckdb"), cwd=project_dir(settings),
                                 stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    summary = [line for line in log.read_text().splitlines() if "Done. PASS=" in line]
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),  # ru_maxrss is KiB
            "exit_code": child.returncode, "dbt_summary": summary[-1].split("  ", 1)[-1].strip() if summary else "",
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)}


def timed_publish(settings: Settings) -> float:
    started = time.perf_counter()
    publish(settings)
    return round(time.perf_counter() - started, 2)


def timed_copy_through_duckdb(settings: Settings) -> float:
    """The baseline of :func:`timed_publish`: every table re-encoded by ``COPY FROM DATABASE``."""
    scratch = duckdb_path(settings).with_name("baseline-copy.duckdb")
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(f"attach '{duckdb_path(settings)}' as {DATABASE} (read_only)")
        _copy_through_duckdb(con, settings, scratch)
    seconds = time.perf_counter() - started
    scratch.unlink()
    return round(seconds, 2)


def counts(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(duckdb_path(settings)), read_only=True) as con:
        return {t: con.execute(f"select count(*) from silver.{t}").fetchone()[0]  # type: ignore[index]
                for t in ("ecoride_sales", "ecoride_customers", "rejected_rows")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir: Path = args.workdir
    files = bronze_files(workdir, args.scale)
    state = workdir / "state"
    shutil.rmtree(state, ignore_errors=True)
    settings = dataclasses.replace(load_settings(), mode="embedded", state_dir=state)
    settings.landing_dir.mkdir(parents=True)
    store = LocalObjectStore(settings.landing_dir)
    result: dict[str, Any] = {"scale": args.scale, "bronze_files": len(files)}
    try:
        result["bronze_load_seconds"] = round(load(settings, store, files), 1)
        result["full"] = dbt_build(settings, workdir / "dbt-full.log")
        result["full"]["publish_seconds"] = timed_publish(settings)
        result["publish_baseline_copy_from_database_seconds"] = timed_copy_through_duckdb(settings)
        before = counts(settings)
        last_month = max(p for k, p in files.items() if k.startswith("raw/ecoride/sales/"))
        extra = workdir / "new-sales.csv"
        extra.write_bytes(new_sales_file(last_month, NEW_ROWS))
        result["new_file_load_seconds"] = round(load(settings, store, {NEW_FILE: extra}), 1)
        result["incremental"] = dbt_build(settings, workdir / "dbt-incremental.log")
        result["incremental"]["publish_seconds"] = timed_publish(settings)
        after = counts(settings)
        # (c) What the Dagster sensor runs after a sales file: only the models downstream of it.
        second = workdir / "new-sales-2.csv"
        second.write_bytes(new_sales_file(last_month, NEW_ROWS, batch=8))
        load(settings, store, {NEW_FILE.replace(".csv", "_b.csv"): second})
        result["selective"] = dbt_build(settings, workdir / "dbt-selective.log", select=SENSOR_SELECTION)
        result["selective"]["publish_seconds"] = timed_publish(settings)
        result["silver_rows_selective"] = counts(settings)
    finally:
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
    result["silver_rows_full"], result["silver_rows_incremental"] = before, after
    result["speedup"] = round(result["full"]["seconds"] / result["incremental"]["seconds"], 1)
    result["selective_speedup_vs_full"] = round(result["full"]["seconds"] / result["selective"]["seconds"], 1)
    result["selective_speedup_vs_incremental"] = round(result["incremental"]["seconds"] / result["selective"]["seconds"], 1)
    return result


def report(result: dict[str, Any]) -> list[str]:
    """Print the table; return the targets missed."""
    print(f"\nbronze: sales and customers at scale {result['scale']:g}, the rest of the sample "
          f"({result['bronze_files']} files, loaded in {result['bronze_load_seconds']} s); "
          f"silver.ecoride_sales {result['silver_rows_full']['ecoride_sales']:,} rows")
    print(f"{'build':<34}{'wall s':>8}{'cpu s':>8}{'peak RSS MB':>13}{'publish s':>11}  dbt")
    for name, label in (("full", "(a) full build"), ("incremental", f"(b) incremental, +{NEW_ROWS}-row sales file"),
                        ("selective", f"(c) sensor's selection, +{NEW_ROWS} rows")):
        r = result[name]
        print(f"{label:<34}{r['seconds']:>8}{r['cpu_seconds']:>8}{r['peak_rss_mb']:>13}{r['publish_seconds']:>11}  "
              f"{r['dbt_summary']}")
    print(f"publish after (a): byte copy {result['full']['publish_seconds']} s; baseline COPY FROM DATABASE "
          f"{result['publish_baseline_copy_from_database_seconds']} s")
    print(f"speed-up (a)/(b): {result['speedup']}x (target >= {SPEEDUP_TARGET:g}x); peak RSS target <= {GIB >> 20} MB")
    print(f"sensor's selection (c): {result['selective_speedup_vs_full']}x faster than (a), "
          f"{result['selective_speedup_vs_incremental']}x faster than (b)")
    missed = []
    for name in ("full", "incremental", "selective"):
        if result[name]["exit_code"] != 0:
            missed.append(f"{name} build exited {result[name]['exit_code']}")
        if result[name]["peak_rss_mb"] > GIB >> 20:
            missed.append(f"{name} build peak RSS {result[name]['peak_rss_mb']} MB > 1024 MB")
    if result["speedup"] < SPEEDUP_TARGET:
        missed.append(f"speed-up {result['speedup']}x < {SPEEDUP_TARGET:g}x")
    # Each new file's rows are cut from generated data, dirt included: each is a new sale or a rejected row.
    if _added(result["silver_rows_full"], result["silver_rows_incremental"]) != NEW_ROWS:
        missed.append("the incremental build did not add exactly the new sales (and their rejected rows)")
    if _added(result["silver_rows_incremental"], result["silver_rows_selective"]) != NEW_ROWS:
        missed.append("the selective build did not add exactly the new sales (and their rejected rows)")
    return missed


def _added(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(after[t] - before[t] for t in ("ecoride_sales", "rejected_rows"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_transform", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=104.0, help="generator scale of sales and customers (default 104)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-transform"))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the state dir (bronze, DuckDB) afterwards")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = run(args)
    missed = report(result)
    result["targets_missed"] = missed
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    for line in missed:
        print(f"target missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
