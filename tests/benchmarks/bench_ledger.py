"""Benchmark: the ledger's cost against the table's history (DESIGN §5.8, issue 10).

    python -m tests.benchmarks.bench_ledger [--sizes 1000,10000,100000] [--huge] [--backend sqlite|nessie]
                                            [--layout mixed|single|compacted] [--repeats 5] [--no-old] [--no-reconcile] [--json PATH]

For each size N it builds a ``ecoride_sales`` table holding N loaded source
files quickly (the rows are made in Arrow, not parsed; many files per
commit) and lands the N one-row CSVs in the store, so the table and the
store agree. Layouts:

* ``mixed`` (default, the steady state with ``lakehouse maintain``): the
  newest 10,000 source files (the last build commit) one data file each, as
  the loaders write them; everything older compacted, 10,000 source files
  per data file;
* ``single``: one data file per source file (no maintenance ever ran);
* ``compacted``: 1,000 source files per data file.

Then, with a warm index in each table's loader (the listener's steady state):

* ``new500``: ``BronzeLoader.load`` of 500 new one-row files (check, parse, write, commit);
* ``check500``: the ledger check of those 500 alone;
* ``dup500``: the same 500 again (all duplicates);
* ``reconcile``: ``listener.replay.reconcile`` over the whole store with
  nothing pending, per listed object (the store's listing included);
* ``cold``: the first check in a fresh index (built from the manifests).

All tables are built first; then ``--repeats`` rounds each load one 500-file
batch into every size in turn, so a busy moment of the (shared) machine hits
every size alike, and the fastest batch per size is the figure (the median
and the fastest CPU time of the process are printed too). Ratios are against
the smallest size of the same run.

The same checks are timed for the ledger of commit a6d9552 (before this
work), loaded from git into a module of its own (``--no-old`` skips it).
Above 200 keys the old check is one scan of every data file's lineage,
whatever the keys, so one scan is timed and stands for new500, dup500 and
each 500-object reconcile chunk. Figures: a table on stdout and JSON (``--json``). Not in CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from types import ModuleType

import pyarrow as pa
from pyiceberg.io.pyarrow import write_file
from pyiceberg.table import Table, WriteTask

from ingestion import ledger
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.schema import arrow_schema
from ingestion.source import SourceObject
from ingestion.specs import route
from ingestion.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from ingestion.writer import open_table
from lakehouse.settings import Settings, load_settings
from listener.dispatcher import Dispatcher
from listener.metrics import ListenerMetrics
from listener.replay import reconcile

BASELINE_COMMIT = "a6d9552"
HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state\n"
CHUNK = 10_000  # source files per build commit
LANDING_THREADS = 16  # concurrent PUTs while landing the history in a bucket


def csv_of(n: int) -> bytes:
    return (HEADER + f"S{n},C{n},V{n},FM-AURORA,2024-01-15,45000.00,500.00,loan,Austin,TX\n").encode()


def key_of(n: int) -> str:
    return f"raw/ecoride/sales/bench/{n // 1000:05d}/sales_{n:08d}.csv"


def baseline_ledger() -> ModuleType:
    """The ledger module as it was before the index (git show), importable on its own."""
    source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:ingestion/ledger.py"], check=True,
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]).stdout
    spec = importlib.util.spec_from_loader("bench_old_ledger", loader=None)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    exec(compile(source, "old_ledger.py", "exec"), module.__dict__)  # noqa: S102 - our own file from git
    return module


def _rows(table: Table, numbers: range, etags: list[str]) -> pa.Table:
    target = arrow_schema(table.schema())
    n = len(numbers)
    columns = {f.name: pa.nulls(n, f.type) for f in target}
    columns["sale_id"] = pa.array([f"S{i}" for i in numbers])
    columns["sale_date"] = pa.array([date(2024, 1, 15)] * n, pa.date32())
    columns["_source_key"] = pa.array([key_of(i) for i in numbers])
    columns["_source_etag"] = pa.array(etags)
    return pa.Table.from_pydict(columns, schema=target)


RECENT = 10_000  # mixed layout: the newest source files, one data file each (not compacted yet)


def _per_file(layout: str, start: int, total: int) -> int:
    """Source files per data file for the chunk starting at ``start``."""
    if layout == "single" or (layout == "mixed" and start >= total - RECENT):
        return 1
    return 1000 if layout == "compacted" else CHUNK


def build(table: Table, store: ObjectStore, total: int, layout: str, land: bool = True) -> Table:
    """N one-row source files: landed in the store (unless not ``land``) and loaded into the table, CHUNK per commit."""
    from pyiceberg.partitioning import PartitionFieldValue, PartitionKey

    for start in range(0, total, CHUNK):
        numbers = range(start, min(total, start + CHUNK))
        etags = []
        for n in numbers:
            data = csv_of(n)
            if not land:
                etags.append(hashlib.sha256(data).hexdigest())
            elif isinstance(store, LocalObjectStore):  # what put_bytes does, one mkdir per folder
                path = store.root / key_of(n)
                if n % 1000 == 0 or n == start:
                    path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                etags.append(hashlib.sha256(data).hexdigest())
            else:
                etags.append(hashlib.md5(data).hexdigest())  # noqa: S324 - S3's ETag of a small PUT
        if land and not isinstance(store, LocalObjectStore):
            # One PUT at a time lands ~100 objects/s; the bucket takes many at once (1M: minutes, not hours).
            with ThreadPoolExecutor(LANDING_THREADS) as pool:
                list(pool.map(lambda n: store.put_bytes(key_of(n), csv_of(n)), numbers))
        rows = _rows(table, numbers, etags)
        per_file = _per_file(layout, start, total)
        spec = table.metadata.spec()
        key = PartitionKey(field_values=[PartitionFieldValue(field=spec.fields[0], value=(2024 - 1970) * 12)],
                           partition_spec=spec, schema=table.schema())
        counter = itertools.count()
        write_uuid = uuid.uuid4()
        tasks = [WriteTask(write_uuid=write_uuid, task_id=next(counter), record_batches=rows.slice(i, per_file).to_batches(),
                           schema=table.schema(), partition_key=key) for i in range(0, rows.num_rows, per_file)]
        files = list(write_file(io=table.io, table_metadata=table.metadata, tasks=iter(tasks)))
        txn = table.transaction()
        with txn.update_snapshot().merge_append() as append:
            for data_file in files:
                append.append_data_file(data_file)
        table = txn.commit_transaction()
    return table


def _timed(fn) -> tuple[float, object]:  # noqa: ANN001
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@dataclasses.dataclass
class Subject:
    """One size's table, store and warm loader."""

    size: int
    settings: Settings
    store: ObjectStore
    catalog: object
    loader: BronzeLoader
    build_s: float
    cold_s: float = 0.0
    new: list[float] = dataclasses.field(default_factory=list)
    new_cpu: list[float] = dataclasses.field(default_factory=list)
    check: list[float] = dataclasses.field(default_factory=list)
    batch: list[SourceObject] = dataclasses.field(default_factory=list)


def prepare(settings: Settings, store: ObjectStore, size: int, layout: str, land: bool = True) -> Subject:
    catalog = open_catalog(settings)
    spec = route(key_of(0))
    assert spec is not None
    table = open_table(catalog, spec, settings.bronze_namespace)
    build_s, table = _timed(lambda: build(table, store, size, layout, land))
    if not land:
        store.put_bytes(key_of(0), csv_of(0))  # the cold check's probe
    loader = BronzeLoader(settings, catalog=catalog, store=store)
    return Subject(size, settings, store, catalog, loader, build_s)


def cold(subject: Subject) -> None:
    """The first check with no index (call ``ledger.forget_indexes`` first: as after a restart)."""
    probe = [subject.store.stat(key_of(0))]
    subject.cold_s, _ = _timed(lambda: subject.loader.pending(probe))


def one_batch(subject: Subject, round_: int) -> None:
    """Land and load 500 new files (the ledger check timed on its own first)."""
    store, loader = subject.store, subject.loader
    fresh = [subject.size + 10_000_000 + round_ * 1000 + i for i in range(500)]
    for n in fresh:
        store.put_bytes(key_of(n), csv_of(n))
    batch = [store.stat(key_of(n)) for n in fresh]
    check_s, pending = _timed(lambda: loader.pending(batch))  # the ledger check alone, warm index
    assert len(pending) == 500
    cpu = time.process_time()
    new_s, outcomes = _timed(lambda: loader.load(batch))
    subject.new_cpu.append(time.process_time() - cpu)
    assert all(o.outcome == "loaded" for o in outcomes), {o.outcome for o in outcomes}
    subject.new.append(new_s)
    subject.check.append(check_s)
    subject.batch = batch


def finish(subject: Subject, layout: str, old: ModuleType | None, with_reconcile: bool = True) -> dict:
    """dup500, reconcile and the old ledger's check, after the rounds."""
    settings, store, loader, batch = subject.settings, subject.store, subject.loader, subject.batch
    dup_s, outcomes = _timed(lambda: loader.load(batch))
    assert all(o.outcome == "duplicate" for o in outcomes)
    rec_s = rec_cpu = 0.0
    listed = 1
    if with_reconcile:
        dispatcher = Dispatcher(loader, store, _NoLetters(), ListenerMetrics(), bucket=settings.bucket, origin="bench")
        list(store.list("raw/"))  # warm the local store's hash cache (a long-running listener has it)
        cpu = time.process_time()
        rec_s, report = _timed(lambda: reconcile(store, loader, dispatcher, "raw/"))
        rec_cpu = time.process_time() - cpu
        assert not report.pending, report.pending[:3]
        listed = report.listed
    spec = route(key_of(0))
    table = subject.catalog.load_table(spec.identifier(settings.bronze_namespace))  # type: ignore[attr-defined]
    data_files = sum(1 for _ in table.scan().plan_files())
    result = {"size": subject.size, "layout": layout, "data_files": data_files, "build_s": round(subject.build_s, 1),
              "cold_index_s": round(subject.cold_s, 3), "check500_s": round(min(subject.check), 4),
              "new500_s": round(min(subject.new), 3), "new500_median_s": round(statistics.median(subject.new), 3),
              "new500_cpu_s": round(min(subject.new_cpu), 3), "new500_all_s": [round(t, 3) for t in subject.new],
              "dup500_s": round(dup_s, 3), "reconcile_us_per_object": round(rec_s / listed * 1e6, 1),
              "reconcile_cpu_us_per_object": round(rec_cpu / listed * 1e6, 1), "listed": listed if with_reconcile else 0}
    if old is not None:
        pairs = [(o.key, o.etag) for o in batch]
        # Above 200 keys the old check reads both lineage columns of every data file, whatever the
        # keys: new500, dup500 and each 500-object reconcile chunk cost one such scan. Time it once.
        old_s, found = _timed(lambda: old.loaded(table, pairs))
        assert len(found) == 500
        result |= {"old_check_new500_s": round(old_s, 3), "old_check_dup500_s": round(old_s, 3),
                   "old_reconcile_check_us_per_object": round(old_s / 500 * 1e6, 1)}
    return result


class _NoLetters:
    def publish(self, letters) -> None:  # noqa: ANN001
        assert not letters


def _backend(kind: str, base: Settings, workdir: Path) -> tuple[Settings, ObjectStore]:
    suffix = uuid.uuid4().hex[:8]
    if kind == "sqlite":
        settings = dataclasses.replace(base, mode="embedded", state_dir=workdir / f"state-{suffix}")
        settings.landing_dir.mkdir(parents=True)
        return settings, LocalObjectStore(settings.landing_dir)
    from lakehouse.services.minio import minio_client

    settings = dataclasses.replace(base, mode="native", bucket=f"bench-{suffix}", bronze_namespace=f"bench_{suffix}")
    # No bucket notification: the history is a million PUTs, and nothing here reads their events.
    minio_client(settings).make_bucket(settings.bucket)
    return settings, S3ObjectStore(minio_client(settings), settings.bucket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="source files per table (comma-separated)")
    parser.add_argument("--huge", action="store_true", help="add 1,000,000 (long: lands a million files)")
    parser.add_argument("--backend", choices=("sqlite", "nessie"), default="sqlite")
    parser.add_argument("--layout", choices=("mixed", "single", "compacted"), default="mixed")
    parser.add_argument("--repeats", type=int, default=5, help="500-file batches per size, interleaved (default 5)")
    parser.add_argument("--no-old", action="store_true", help="do not time the old ledger")
    parser.add_argument("--no-reconcile", action="store_true",
                        help="do not land the history in the store, nor time reconcile (a quick 1M table)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.huge else [])
    old = None if args.no_old else baseline_ledger()
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        subjects = []
        for size in sizes:
            settings, store = _backend(args.backend, load_settings(), Path(tmp))
            subjects.append(prepare(settings, store, size, args.layout, land=not args.no_reconcile))
            _log(f"built {size:,} in {subjects[-1].build_s:.0f}s")
        ledger.forget_indexes()
        for subject in subjects:
            cold(subject)
        for round_ in range(args.repeats):  # interleaved: machine noise hits every size alike
            for subject in subjects:
                one_batch(subject, round_)
            _log(f"round {round_}: " + ", ".join(f"{s.size:,}: {s.new[-1]:.2f}s" for s in subjects))
        for subject in subjects:
            results.append(finish(subject, args.layout, old, with_reconcile=not args.no_reconcile)
                           | {"backend": args.backend})
            _log(json.dumps(results[-1]))
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def _print(results: list[dict]) -> None:
    base = results[0]
    old = "old_check_new500_s" in base
    print(f"{'source files':>12} {'data files':>10} {'cold index':>10} {'check500':>9} {'new500':>8} {'median':>7} "
          f"{'cpu':>6} {'dup500':>8} {'reconcile/obj':>13} {'(cpu)':>7}  new500 vs first"
          + (f" {'old check':>10} {'old rec/obj':>11}" if old else ""))
    for r in results:
        print(f"{r['size']:>12,} {r['data_files']:>10,} {r['cold_index_s']:>9.2f}s {r['check500_s']:>8.3f}s "
              f"{r['new500_s']:>7.2f}s {r['new500_median_s']:>6.2f}s {r['new500_cpu_s']:>5.2f}s {r['dup500_s']:>7.3f}s "
              f"{r['reconcile_us_per_object']:>11.0f}µs {r.get('reconcile_cpu_us_per_object', 0):>5.0f}µs  "
              f"{r['new500_s'] / base['new500_s']:>14.2f}x"
              + (f" {r['old_check_new500_s']:>9.2f}s {r['old_reconcile_check_us_per_object']:>9.0f}µs" if old else ""))


if __name__ == "__main__":
    sys.exit(main())
