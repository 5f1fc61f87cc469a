"""Benchmark: peak memory of a JSON file of big records, batches bounded by bytes vs by record count.

    python -m tests.benchmarks.bench_json_memory [--records 12000] [--record-kb 15] [--workdir DIR] [--json F]

Writes one JSON Lines reviews file of ``--records`` records of about
``--record-kb`` KB each (a long ``review_text``), then loads it with the real
``BronzeLoader`` on an embedded (SQLite) catalog, once per bound, each in a
fresh child process so that each peak RSS (``ru_maxrss``) is that load's alone:

* ``bytes`` — the parser as it is: a batch ends at ``BATCH_RECORDS`` (10,000)
  records or ``BATCH_CHARS`` (8 MB) of JSON text, whichever comes first;
* ``records`` — the old bound (before issue 9): 10,000 records a batch, however
  big (``BATCH_CHARS`` set out of reach; the rest of the parser unchanged).

Wall time on a shared machine is noise; ``cpu_seconds`` (user + system of the
load) is the figure to compare. Both loads must give the same row count. Not part of the test run (pytest
collects ``test_*.py`` only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "raw/ecoride/reviews/bench/reviews_big_records.jsonl"


def build(path: Path, records: int, record_kb: int) -> None:
    if path.is_file():
        return
    text = ("All good, the range is as promised. " * (record_kb * 1024 // 36 + 1))[: record_kb * 1024]
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            out.write(json.dumps({"review_id": f"R{i:06d}", "model_id": "FM-AURORA", "customer_id": f"C{i % 977}",
                                  "rating": i % 5 + 1, "title": f"Review {i}", "review_text": text,
                                  "review_date": "2024-03-01", "verified_purchase": True,
                                  "helpful_votes": i % 13, "tags": ["range", "comfort"]}) + "\n")


def load_once(source: Path, bound: str, workdir: Path) -> dict[str, object]:
    """In this (child) process: load the file once, report rows, seconds and peak RSS."""
    from lakehouse.settings import load_settings
    from ingestion.loader import BronzeLoader
    from ingestion.parsers import json as json_parser
    from ingestion.storage import LocalObjectStore

    if bound == "records":
        json_parser.BATCH_CHARS = 1 << 62  # the old bound: BATCH_RECORDS only
    settings = dataclasses.replace(load_settings(), mode="embedded", state_dir=workdir / "state")
    settings.landing_dir.mkdir(parents=True)
    target = settings.landing_dir / KEY
    target.parent.mkdir(parents=True)
    target.symlink_to(source)
    store = LocalObjectStore(settings.landing_dir)
    loader = BronzeLoader(settings, store=store)
    obj = store.stat(KEY)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.monotonic()
    (outcome,) = loader.load([obj])
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"bound": bound, "outcome": outcome.outcome, "rows": outcome.rows, "seconds": round(seconds, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu, 1),
            "rss_before_load_mb": round(before / 1024), "peak_rss_mb": round(resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024),
            "batch_records": json_parser.BATCH_RECORDS,
            "batch_chars": None if bound == "records" else json_parser.BATCH_CHARS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=12_000)
    parser.add_argument("--record-kb", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--child", nargs=2, metavar=("BOUND", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-json-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.child:
        bound, source = args.child
        run = Path(tempfile.mkdtemp(prefix=f"load-{bound}-", dir=workdir))  # a fresh catalog every run
        print(json.dumps(load_once(Path(source), bound, run)))
        return 0

    source = workdir / f"reviews_{args.records}x{args.record_kb}kb.jsonl"
    build(source, args.records, args.record_kb)
    size_mb = source.stat().st_size / 1e6
    print(f"{source}: {args.records} records of ~{args.record_kb} KB, {size_mb:.0f} MB", flush=True)
    results = []
    for bound in ("bytes", "records"):
        child = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_json_memory", "--workdir",
                                str(workdir / bound), "--child", bound, str(source)],
                               check=True, capture_output=True, text=True)
        result = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(result)
        print(f"  {bound:>7} bound: {result['outcome']} {result['rows']} rows in {result['seconds']} s "
              f"({result['cpu_seconds']} s CPU), "
              f"peak RSS {result['peak_rss_mb']} MB (before the load {result['rss_before_load_mb']} MB)", flush=True)
    if len({r["rows"] for r in results}) != 1 or results[0]["rows"] != args.records:
        print("row counts differ", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps({"records": args.records, "record_kb": args.record_kb,
                                         "file_mb": round(size_mb), "runs": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
