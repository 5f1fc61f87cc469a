"""Bulk: one big generator sales CSV through our loader against pyarrow's own streaming writer.

    python -m tests.benchmarks.bench_bulk --csv PATH --run ours|baseline   (one measurement, JSON on stdout)

``ours`` is ``BronzeLoader`` on the embedded stack (SQLite catalog, warehouse
on local disk): typed casting with rescue, lineage columns, Iceberg commit.
``baseline`` is what a user gets from pyarrow alone, on the same file and
disk: ``pyarrow.csv.open_csv`` (type inference) into ``ParquetWriter`` with
zstd. Each runs in a child process of its own, so ``ru_maxrss`` is that
load's peak RSS and its CPU time (every thread's) is its own. :func:`compare`
runs both and gives the ratio by the clock and by CPU time; on a shared
machine only the second is a fair comparison (the two runs happen at
different moments of other people's load).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_bronze_csv import SAMPLE_SALES_BYTES, build_csv

PROJECT = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def csv_for_scale(workdir: Path, scale: float) -> Path:
    """The generator's sales at ``scale`` as one CSV (built once per work dir, see bench_bronze_csv)."""
    folder = workdir / f"scale-{scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    # build_csv picks the scale from a size; ask for just under what this scale yields.
    gigabytes = SAMPLE_SALES_BYTES * max(scale, 1.0) ** 1.5 / 1.05 ** 1.5 / 1e9 * 0.98
    return build_csv(folder, gigabytes)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(csv: Path) -> dict:
    import dataclasses

    from ingestion.loader import BronzeLoader
    from ingestion.storage import LocalObjectStore
    from lakehouse.settings import load_settings

    with tempfile.TemporaryDirectory(dir=csv.parent) as tmp:
        settings = dataclasses.replace(load_settings(), mode="embedded", state_dir=Path(tmp) / "state")
        settings.landing_dir.mkdir(parents=True)
        store = LocalObjectStore(settings.landing_dir)
        key = "raw/ecoride/sales/bench/" + csv.name
        (settings.landing_dir / key).parent.mkdir(parents=True)
        (settings.landing_dir / key).symlink_to(csv)
        started = time.perf_counter()
        (outcome,) = BronzeLoader(settings, store=store).load([store.stat(key)])
        seconds = time.perf_counter() - started
        written = sum(p.stat().st_size for p in settings.embedded_warehouse_dir.rglob("*.parquet"))
    if outcome.outcome != "loaded":
        raise SystemExit(f"the file was {outcome.outcome}: {outcome.error}")
    return {"rows": outcome.rows, "seconds": seconds, "parquet_mb": written / MIB}


def run_baseline(csv: Path) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(dir=csv.parent) as tmp:
        target = Path(tmp) / "baseline.parquet"
        started = time.perf_counter()
        reader = pacsv.open_csv(csv)
        rows = 0
        with pq.ParquetWriter(target, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        seconds = time.perf_counter() - started
        written = target.stat().st_size
    return {"rows": rows, "seconds": seconds, "parquet_mb": written / MIB}


def measure(csv: Path, which: str, profile: Path | None = None) -> dict:
    """One measurement in a child process (its own peak RSS)."""
    argv = [sys.executable, "-m", "tests.benchmarks.bench_bulk", "--csv", str(csv), "--run", which]
    if profile is not None:
        argv += ["--profile", str(profile)]
    proc = subprocess.run(argv, cwd=PROJECT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bulk {which} on {csv.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(csv: Path) -> dict:
    """Ours and the baseline on ``csv``: rows/s each, the ratio, peak RSS each."""
    ours, base = measure(csv, "ours"), measure(csv, "baseline")
    if ours["rows"] != base["rows"]:
        raise RuntimeError(f"ours loaded {ours['rows']} rows, the baseline read {base['rows']}: not the same file?")
    return {
        "csv_mb": round(csv.stat().st_size / 1e6, 1), "rows": ours["rows"],
        "ours_rows_per_s": ours["rows_per_s"], "baseline_rows_per_s": base["rows_per_s"],
        "ratio": round(ours["rows_per_s"] / base["rows_per_s"], 3),
        # CPU time (all threads) instead of the clock: what a shared machine does not distort.
        "ours_rows_per_cpu_s": ours["rows_per_cpu_s"], "baseline_rows_per_cpu_s": base["rows_per_cpu_s"],
        "cpu_ratio": round(ours["rows_per_cpu_s"] / base["rows_per_cpu_s"], 3),
        "ours_peak_rss_mb": ours["peak_rss_mb"], "baseline_peak_rss_mb": base["peak_rss_mb"],
        "ours_s": ours["seconds"], "baseline_s": base["seconds"],
        "ours_parquet_mb": ours["parquet_mb"], "baseline_parquet_mb": base["parquet_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_bulk", description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--run", choices=("ours", "baseline"), required=True)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    args = parser.parse_args(argv)
    run = run_ours if args.run == "ours" else run_baseline
    cpu_before = _cpu_s()
    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run, args.csv)
        profiler.dump_stats(args.profile)
    else:
        result = run(args.csv)
    cpu = _cpu_s() - cpu_before  # every thread's, imports of the run included
    print(json.dumps({
        "run": args.run, "rows": result["rows"], "seconds": round(result["seconds"], 2),
        "rows_per_s": round(result["rows"] / result["seconds"]), "cpu_s": round(cpu, 2),
        "rows_per_cpu_s": round(result["rows"] / cpu), "peak_rss_mb": round(_peak_mb()),
        "parquet_mb": round(result["parquet_mb"], 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
