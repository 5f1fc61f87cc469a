"""Benchmark: one CSV of at least 1 GB through BronzeLoader, with bounded memory.

    python -m tests.benchmarks.bench_bronze_csv [--gb 1.0] [--backend sqlite|nessie] [--workdir DIR]

The CSV is the mock data generator's sales (``python -m data.generate --only
sales``, scaled to the requested size) concatenated into one file with one
header, so it has the real dirt (bad dates, stray whitespace). It is built
once per work dir and reused. Generation runs in a child process; the load
runs in this one, so the peak RSS reported (``ru_maxrss``) is the loader's.

Prints rows/s, MB/s and peak RSS; exits 1 if the peak RSS is 1 GiB or more.
Not part of the default test run (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from lakehouse.settings import Settings, load_settings
from ingestion.loader import BronzeLoader
from ingestion.source import SourceObject
from ingestion.storage import LocalObjectStore, ObjectStore, S3ObjectStore

KEY = "raw/ecoride/sales/bench/sales_all.csv"
GIB = 1 << 30
# Sales bytes at scale 1 (the committed sample), from which the scale for the wanted size follows.
SAMPLE_SALES_BYTES = 1.02e6


def _scale_for(gigabytes: float) -> float:
    """Sales grow as scale ** 1.5 above scale 1 (see data.generator.config.sales_multiplier)."""
    return max(1.0, (gigabytes * 1e9 / SAMPLE_SALES_BYTES) ** (2 / 3) * 1.05)


def build_csv(workdir: Path, gigabytes: float) -> Path:
    """Generate sales and concatenate the monthly files into one CSV (kept for the next run)."""
    target = workdir / f"sales_{gigabytes:g}gb.csv"
    if target.is_file() and target.stat().st_size >= gigabytes * 1e9:
        return target
    generated = workdir / "generated"
    scale = _scale_for(gigabytes)
    print(f"generating sales at scale {scale:.0f} into {generated} (first run only) ...", flush=True)
    subprocess.run([sys.executable, "-m", "data.generate", "--out", str(generated), "--scale", f"{scale:.0f}",
                    "--only", "sales", "--force"], check=True)
    parts = sorted((generated / "raw" / "ecoride" / "sales").glob("*.csv"))
    with target.open("wb") as out:
        for index, part in enumerate(parts):
            with part.open("rb") as src:
                header = src.readline()
                if index == 0:
                    out.write(header)
                shutil.copyfileobj(src, out, 1 << 20)
    size = target.stat().st_size
    if size < gigabytes * 1e9:
        raise SystemExit(f"generated only {size / 1e9:.2f} GB; raise SAMPLE_SALES_BYTES's safety factor")
    return target


def _backend(name: str, base: Settings, workdir: Path) -> tuple[Settings, ObjectStore]:
    if name == "sqlite":
        state = workdir / f"state-{uuid.uuid4().hex[:6]}"
        settings = dataclasses.replace(base, mode="embedded", state_dir=state)
        settings.landing_dir.mkdir(parents=True)
        return settings, LocalObjectStore(settings.landing_dir)
    from lakehouse.services.minio import MinioService, minio_client

    suffix = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(base, mode="native", bucket=f"bench-{suffix}", bronze_namespace=f"bench_{suffix}")
    MinioService(settings).configure()
    return settings, S3ObjectStore(minio_client(settings), settings.bucket)


def _land(store: ObjectStore, csv: Path) -> SourceObject:
    if isinstance(store, LocalObjectStore):
        target = store.root / KEY
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(csv)  # no copy of a GB; the loader streams it either way
        return store.stat(KEY)
    client = store.client  # type: ignore[attr-defined]
    client.fput_object(store.bucket, KEY, str(csv))  # type: ignore[attr-defined]
    return store.stat(KEY)


def _cleanup(settings: Settings, store: ObjectStore) -> None:
    """Remove what the run wrote: a GB of Parquet should not outlive a benchmark."""
    if isinstance(store, LocalObjectStore):
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        return
    from ingestion.catalog import open_catalog

    catalog = open_catalog(settings)
    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    for path in table.inspect.files().column("file_path").to_pylist():
        table.io.delete(path)
    catalog.drop_table((settings.bronze_namespace, "ecoride_sales"))
    catalog.drop_namespace(settings.bronze_namespace)
    client = store.client  # type: ignore[attr-defined]
    for obj in client.list_objects(settings.bucket, recursive=True):
        client.remove_object(settings.bucket, obj.object_name)
    client.remove_bucket(settings.bucket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_bronze_csv", description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="minimum CSV size in GB (default 1)")
    parser.add_argument("--backend", choices=("sqlite", "nessie"), default="sqlite")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lakehouse-bench"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv = build_csv(args.workdir, args.gb)
    settings, store = _backend(args.backend, load_settings(), args.workdir)
    obj = _land(store, csv)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    started = time.perf_counter()
    try:
        (outcome,) = BronzeLoader(settings, store=store).load([obj])
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finally:
        _cleanup(settings, store)

    result = {
        "backend": args.backend, "outcome": outcome.outcome, "rows": outcome.rows, "bytes": obj.size,
        "seconds": round(seconds, 1), "rows_per_s": round(outcome.rows / seconds),
        "mb_per_s": round(obj.size / 1e6 / seconds, 1), "peak_rss_mb": round(peak / 2**20),
        "rss_before_load_mb": round(rss_before / 2**20),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['bytes'] / 1e9:.2f} GB, {result['rows']:,} rows in {result['seconds']} s on {args.backend}: "
              f"{result['rows_per_s']:,} rows/s, {result['mb_per_s']} MB/s, peak RSS {result['peak_rss_mb']} MB "
              f"(before the load {result['rss_before_load_mb']} MB)")
    if outcome.outcome != "loaded":
        print(f"error: the file was {outcome.outcome}: {outcome.error}", file=sys.stderr)
        return 1
    return 0 if peak < GIB else 1


if __name__ == "__main__":
    sys.exit(main())
