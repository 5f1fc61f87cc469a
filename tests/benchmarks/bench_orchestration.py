"""Benchmark: bronze commit -> gold through bronze_sensor, as users run it (issue 12).

    nice -n 10 .venv/bin/python -m tests.benchmarks.bench_orchestration [--drops 20] [--quick] [--json PATH]
        [--scale S [--workdir DIR]]

An embedded lakehouse in a temp state folder (SQLite catalog, DuckDB target) and
the real Dagster daemon on it (``dagster-daemon run -m orchestration.definitions``
with the instance configuration ``python -m orchestration.dev`` and ``lakehouse up``
write). After a first run has built every model once, each drop loads one monthly
sales file of the sample with the project's ``BronzeLoader`` (what the listener does)
and waits for ``gold.sales_monthly`` to show that month; the latency runs from the
bronze snapshot's commit time to that read. Per drop it also splits the time into
commit -> sensor tick -> run created -> run worker started -> dbt step done -> run
done (from the instance's tick, run and event records). Then, with the daemon
idle, a full ``dbt build`` (what the seed did after every load) and the same
selective ``dbt build --select source:bronze.ecoride_sales+`` straight from the CLI,
then both again in this process with dbt warmed up as a spare run worker does; each
of these builds follows a new file of 300 sales.

Targets: p50 <= 15 s; the selective run >= 3x faster than a full build.
Prints a table; ``--json`` writes the figures. Not in CI (``run(n_drops=2,
quick=True)`` is the importable short form for a suite runner).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster._core.scheduler.instigation import TickStatus  # not exported by dagster

from lakehouse.settings import Settings, load_settings
from orchestration import dbt_inprocess
from orchestration.dbt import DbtBuildConfig, dbt_build_args, environment, warm_up_dbt
from orchestration.resources import dbt_env
from orchestration.instance import dagster_home
from orchestration.prepare import prepare
from orchestration.sensors import SENSOR_NAME, SENSOR_NAME_TAG, TAG_SNAPSHOTS
from tests.benchmarks import bench_transform
from tests.benchmarks.figures import percentile
from tests.integration.orchestration.lake import SAMPLE_RAW, Lake
from warehouse.dbt import duckdb_path, run_dbt

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ("ecoride/vehicles/vehicles.csv", "ecoride/customers/customers.csv")
FIRST = "ecoride/sales/sales_2023-01.csv"
TARGET_P50_S = 15.0
TARGET_SPEEDUP = 3.0
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def monthly_sales() -> list[str]:
    """The sample's monthly sales files after the first one, oldest first (re-sent files left out)."""
    files = sorted(p.name for p in (SAMPLE_RAW / "ecoride" / "sales").glob("sales_????-??.csv"))
    return [f"ecoride/sales/{name}" for name in files if f"ecoride/sales/{name}" != FIRST]


def wait(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class Daemon:
    """``dagster-daemon run`` on the code location, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        executable = Path(sys.executable).parent / "dagster-daemon"
        self.process = subprocess.Popen([str(executable), "run", "-m", "orchestration.definitions"], cwd=PROJECT_ROOT,
                                        env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, 2)  # SIGINT: the daemon stops its code server and threads
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)
        self._log.close()


@dataclasses.dataclass
class Drop:
    """One sales file from bronze commit to gold, with the legs in between (seconds)."""

    file: str
    rows: int
    commit_to_gold: float
    commit_to_tick: float
    tick_to_run_created: float
    created_to_started: float
    started_to_dbt_done: float
    dbt_step: float
    dbt_done_to_run_end: float
    run_end_to_gold: float
    models_run: int


class Bench:
    def __init__(self, work: Path, sensor_interval: int) -> None:
        base = load_settings()
        self.lake = Lake.create(base, work / "state")
        self.settings: Settings = self.lake.settings
        self.home = dagster_home(self.settings)
        self.env = {**os.environ, "LAKEHOUSE_MODE": "embedded", "LAKEHOUSE_STATE_DIR": str(self.settings.state_dir),
                    "LAKEHOUSE_SENSOR_INTERVAL_SECONDS": str(sensor_interval), "DAGSTER_HOME": str(self.home),
                    "DO_NOT_TRACK": "1"}
        self.daemon: Daemon | None = None
        self.instance: dg.DagsterInstance | None = None
        self.seen_runs: set[str] = set()

    # -- the stack ------------------------------------------------------------
    def start(self) -> None:
        prepare(self.settings)  # transformation/target, the manifest the code location loads
        os.environ["DAGSTER_HOME"] = str(self.home)
        self.instance = dg.DagsterInstance.get()
        self.daemon = Daemon(self.env, self.settings.state_dir / "dagster-daemon.log")

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        if self.instance is not None:
            self.instance.dispose()
            self.instance = None

    # -- reading the instance -------------------------------------------------
    def sensor_run(self, snapshot_id: int) -> dg.DagsterRun | None:
        assert self.instance is not None and self.daemon is not None
        if not self.daemon.alive():
            raise RuntimeError(f"the daemon exited:\n{self.daemon.tail()}")
        runs = self.instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: SENSOR_NAME}), limit=5)
        for run in runs:
            if run.run_id not in self.seen_runs and str(snapshot_id) in run.tags.get(TAG_SNAPSHOTS, ""):
                return run
        return None

    def finished(self, run_id: str) -> dg.DagsterRun | None:
        assert self.instance is not None
        run = self.instance.get_run_by_id(run_id)
        return run if run is not None and run.status in TERMINAL else None

    def tick_time(self, run_id: str) -> float:
        assert self.instance is not None
        (state,) = [s for s in self.instance.all_instigator_state() if s.instigator_name == SENSOR_NAME]
        # Only ticks that requested runs: a long run is followed by many skipped ticks.
        launches = self.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=50,
                                           statuses=[TickStatus.SUCCESS])
        for tick in launches:
            if run_id in tick.run_ids:
                return tick.timestamp
        raise LookupError(f"no tick launched {run_id}")

    def step_times(self, run_id: str) -> tuple[float, float]:
        """The dbt step's start and end (the op that runs ``dbt build``)."""
        assert self.instance is not None
        records = self.instance.get_records_for_run(run_id, limit=10_000).records
        starts = [r.event_log_entry.timestamp for r in records if r.event_log_entry.dagster_event_type == dg.DagsterEventType.STEP_START]
        ends = [r.event_log_entry.timestamp for r in records
                if r.event_log_entry.dagster_event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)]
        return min(starts), max(ends)

    def silver_sales(self) -> int:
        with duckdb.connect(str(duckdb_path(self.settings)), read_only=True) as con:
            (rows,) = con.sql("select count(*) from silver.ecoride_sales").fetchone()
            return int(rows)

    def month_units(self, month: str) -> int | None:
        """Units of ``month`` in gold.sales_monthly, or None while dbt still holds the file."""
        path = str(duckdb_path(self.settings))
        try:
            with duckdb.connect(path, read_only=True) as con:
                (units,) = con.sql("select coalesce(sum(units), 0) from gold.sales_monthly "
                                   f"where strftime(month, '%Y-%m') = '{month}'").fetchone()
                return int(units)
        except duckdb.Error:
            return None

    # -- one drop -------------------------------------------------------------
    def await_run(self, snapshot_id: int, timeout: float) -> dg.DagsterRun:
        run = wait(f"a run for snapshot {snapshot_id}", lambda: self.sensor_run(snapshot_id), timeout)
        self.seen_runs.add(run.run_id)
        done = wait(f"run {run.run_id} to finish", lambda: self.finished(run.run_id), timeout, interval=0.05)
        if done.status != dg.DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"run {run.run_id} ended {done.status.value}; daemon log:\n{self.daemon.tail() if self.daemon else ''}")
        return done

    def drop(self, relative: str, timeout: float = 600) -> Drop:
        """One monthly sales file of the sample (a month gold does not show yet)."""
        month = relative.rsplit("_", 1)[1].removesuffix(".csv")
        return self.drop_file(relative, (SAMPLE_RAW / relative).read_bytes(), month, timeout)

    def drop_file(self, relative: str, data: bytes, month: str, timeout: float = 600) -> Drop:
        """Load one sales file; the drop ends when gold.sales_monthly's units of ``month`` have grown."""
        before = self.month_units(month) or 0
        (outcome,) = self.lake.drop({f"raw/{relative}": data})
        assert outcome.outcome == "loaded", outcome
        table = self.lake.catalog.load_table((self.settings.bronze_namespace, "ecoride_sales"))
        snapshot = table.current_snapshot()
        assert snapshot is not None
        committed = snapshot.timestamp_ms / 1000
        run = self.await_run(snapshot.snapshot_id, timeout)
        # The run is done when its worker has written the end event; gold is read right after.
        units = wait(f"gold.sales_monthly to show {month}'s new rows",
                     lambda: (self.month_units(month) or 0) > before, 60, interval=0.05)
        visible = time.time()
        assert units
        assert self.instance is not None
        record = self.instance.get_run_record_by_id(run.run_id)
        assert record is not None and record.start_time is not None and record.end_time is not None
        tick = self.tick_time(run.run_id)
        step_start, step_end = self.step_times(run.run_id)
        created = record.create_timestamp.timestamp()
        return Drop(
            file=relative, rows=outcome.rows, commit_to_gold=visible - committed, commit_to_tick=tick - committed,
            tick_to_run_created=created - tick, created_to_started=record.start_time - created,
            started_to_dbt_done=step_end - record.start_time, dbt_step=step_end - step_start,
            dbt_done_to_run_end=record.end_time - step_end, run_end_to_gold=visible - record.end_time,
            models_run=len(run.asset_selection or ()),
        )

    def first_build(self, timeout: float = 1800, scaled: dict[str, Path] | None = None) -> float:
        """Reference data and the first sales (or every file of ``scaled``), then the run that builds every model."""
        started = time.monotonic()
        if scaled:
            bench_transform.load(self.settings, self.lake.store, scaled)
        else:
            self.lake.drop_sample(*REFERENCE, FIRST)
        snapshot = self.lake.catalog.load_table((self.settings.bronze_namespace, "ecoride_sales")).current_snapshot()
        assert snapshot is not None
        self.await_run(snapshot.snapshot_id, timeout)
        return time.monotonic() - started

    # -- dbt straight from the CLI, daemon idle -------------------------------
    def dbt_build(self, *select: str) -> float:
        args = dbt_build_args(DbtBuildConfig())
        if select:
            args += ["--select", *select]
        started = time.monotonic()
        result = run_dbt(args, self.settings, capture=True)
        if result.returncode != 0:
            raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-3000:]}")
        return time.monotonic() - started

    def dbt_build_in_process(self, *select: str) -> float:
        """The build as a warm run worker runs it: dbt imported and the project parsed ahead (not timed)."""
        warm_up_dbt(self.settings)
        warm = dbt_inprocess.current()
        assert warm is not None
        args = dbt_build_args(DbtBuildConfig()) + (["--select", *select] if select else [])
        with environment(dbt_env(self.settings)):
            started = time.monotonic()
            run = dbt_inprocess.InProcessRun(warm, args)
            errors = [e["info"]["msg"] for e in run.events() if e["info"].get("level") == "error"]
            code = run.wait()
            elapsed = time.monotonic() - started
        if code != 0:
            raise RuntimeError(f"dbt {' '.join(args)} in process failed: {errors[-3:]}")
        return elapsed


def graph_models() -> int:
    manifest = json.loads((PROJECT_ROOT / "transformation" / "target" / "manifest.json").read_text())
    return sum(1 for node in manifest["nodes"].values() if node["resource_type"] == "model")


def _median(values: dict[str, list[float]] | None, key: str) -> float | None:
    return round(statistics.median(values[key]), 2) if values and values.get(key) else None


def summarise(drops: list[Drop], first_s: float, full_s: list[float], selective_cli_s: list[float],
              models_total: int, sensor_interval: int, in_process: dict[str, list[float]] | None = None) -> dict[str, Any]:
    latency = [d.commit_to_gold for d in drops]
    runs = [d.started_to_dbt_done + d.dbt_done_to_run_end + d.created_to_started for d in drops]
    legs = {name: statistics.median(getattr(d, name) for d in drops) for name in (
        "commit_to_tick", "tick_to_run_created", "created_to_started", "started_to_dbt_done", "dbt_step",
        "dbt_done_to_run_end", "run_end_to_gold")}
    full = statistics.median(full_s) if full_s else None
    selective_run = statistics.median(runs)
    return {
        "drops": len(drops),
        "sensor_interval_s": sensor_interval,
        "commit_to_gold_p50_s": round(percentile(latency, 0.50), 2),
        "commit_to_gold_p95_s": round(percentile(latency, 0.95), 2),
        "commit_to_gold_max_s": round(max(latency), 2),
        "legs_p50_s": {k: round(v, 2) for k, v in legs.items()},
        "models_run_p50": statistics.median(d.models_run for d in drops),
        "models_in_graph": models_total,
        "first_build_s": round(first_s, 1),
        "selective_run_p50_s": round(selective_run, 2),  # run created -> run end (Dagster)
        "selective_dbt_step_p50_s": round(legs["dbt_step"], 2),
        "selective_dbt_cli_p50_s": round(statistics.median(selective_cli_s), 2) if selective_cli_s else None,
        "full_dbt_build_p50_s": round(full, 2) if full else None,
        "full_vs_selective_run": round(full / selective_run, 2) if full else None,
        "full_vs_selective_dbt_cli": round(full / statistics.median(selective_cli_s), 2) if full and selective_cli_s else None,
        # The sensor's dbt step (in the warm worker) against the full build as the seed ran it (the CLI).
        "full_dbt_build_vs_selective_dbt_step": round(full / legs["dbt_step"], 2) if full else None,
        # Like for like: both builds in a warm process (dbt imported, project parsed ahead).
        "in_process_full_p50_s": _median(in_process, "full"),
        "in_process_selective_p50_s": _median(in_process, "selective"),
        "in_process_full_vs_selective": (round(_median(in_process, "full") / _median(in_process, "selective"), 2)
                                         if in_process else None),
        "targets": {"p50_s": TARGET_P50_S, "speedup": TARGET_SPEEDUP},
        "per_drop": [dataclasses.asdict(d) for d in drops],
    }


def run(n_drops: int = 20, quick: bool = False, sensor_interval: int | None = None,
        keep: bool = False, scale: float | None = None, workdir: Path | None = None) -> dict[str, Any]:
    """The benchmark; ``quick`` skips the repeated CLI builds (one of each instead of three).

    ``scale``: bronze starts with the generator's sales and customers at that scale
    (generated into ``workdir`` once) and the rest of the sample, as in bench_transform,
    instead of the reference data and one month of sales; each drop
    is a file of 300 new sales of January 2025 (bench_transform's); else the drops are
    the sample's monthly sales files.
    """
    files = monthly_sales()
    if scale is None and n_drops > len(files):
        raise ValueError(f"at most {len(files)} drops (the sample's monthly sales files)")
    interval = sensor_interval if sensor_interval is not None else load_settings().sensor_interval_seconds
    work = Path(tempfile.mkdtemp(prefix="bench-orchestration-"))
    # bench_transform's bronze: the generator's sales and customers at `scale`, the sample for the rest.
    scaled = bench_transform.bronze_files(workdir or work, scale) if scale else None
    bench = Bench(work, interval)
    try:
        bench.start()
        first = bench.first_build(scaled=scaled)
        drops = []
        for n in range(n_drops):
            if scaled:
                last_month = max(p for k, p in scaled.items() if k.startswith("raw/ecoride/sales/"))
                relative = f"ecoride/sales/new/sales_2025-01_{n:02d}.csv"
                data = bench_transform.new_sales_file(last_month, bench_transform.NEW_ROWS, batch=10 + n)
                drops.append(bench.drop_file(relative, data, "2025-01"))
            else:
                relative = files[n]
                drops.append(bench.drop(relative))
            print(f"drop {len(drops)}/{n_drops} {relative}: {drops[-1].commit_to_gold:.1f} s", file=sys.stderr, flush=True)
        bench.stop()  # the daemon idle would not interfere, but the CLI builds must be alone on the DuckDB file
        bench.daemon = None
        repeats = 1 if quick else 3
        # Every build follows a new file of 300 sales, as the seed's build followed each load
        # (a build with nothing new merges nothing and would flatter the full build).
        last_month = (max(p for k, p in scaled.items() if k.startswith("raw/ecoride/sales/")) if scaled
                      else SAMPLE_RAW / files[-1])
        fresh = iter(range(100, 200))

        def after_new_file(build: Callable[..., float], *select: str) -> float:
            n = next(fresh)
            (outcome,) = bench.lake.drop({f"raw/ecoride/sales/new/sales_2025-01_{n}.csv":
                                         bench_transform.new_sales_file(last_month, bench_transform.NEW_ROWS, batch=n)})
            assert outcome.outcome == "loaded", outcome
            return build(*select)

        selection = "source:bronze.ecoride_sales+"
        full = [after_new_file(bench.dbt_build) for _ in range(repeats)]
        selective = [after_new_file(bench.dbt_build, selection) for _ in range(repeats)]
        in_process = {"full": [after_new_file(bench.dbt_build_in_process) for _ in range(repeats)],
                      "selective": [after_new_file(bench.dbt_build_in_process, selection) for _ in range(repeats)]}
        return {"scale": scale, "silver_sales_rows": bench.silver_sales(),
                **summarise(drops, first, full, selective, graph_models(), interval, in_process)}
    finally:
        bench.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def table(result: dict[str, Any]) -> str:
    legs = result["legs_p50_s"]
    lines = [
        f"bronze commit -> gold.sales_monthly, {result['drops']} drops (sensor interval {result['sensor_interval_s']} s):",
        f"  p50 {result['commit_to_gold_p50_s']:.2f} s   p95 {result['commit_to_gold_p95_s']:.2f} s   "
        f"max {result['commit_to_gold_max_s']:.2f} s   (target p50 <= {TARGET_P50_S:.0f} s)",
        "  legs (p50): " + ", ".join(f"{k} {v:.2f}" for k, v in legs.items()),
        f"bronze: {'the committed sample' if not result.get('scale') else 'generator scale %g' % result['scale']}, "
        f"silver.ecoride_sales {result.get('silver_sales_rows', 0):,} rows at the end",
        f"models run per drop: {result['models_run_p50']:.0f} of {result['models_in_graph']} in the graph",
        f"selective Dagster run (created -> end) p50 {result['selective_run_p50_s']:.2f} s, "
        f"its dbt step {result['selective_dbt_step_p50_s']:.2f} s; same selection from the dbt CLI "
        f"{result['selective_dbt_cli_p50_s']:.2f} s",
        f"full dbt build {result['full_dbt_build_p50_s']:.2f} s: {result['full_vs_selective_run']:.2f}x the selective run, "
        f"{result['full_vs_selective_dbt_cli']:.2f}x the selective dbt CLI (target >= {TARGET_SPEEDUP:.0f}x)",
        f"full dbt build (CLI) vs the sensor's dbt step (in the warm worker): "
        f"{result['full_dbt_build_vs_selective_dbt_step']:.2f}x",
        *([f"both in a warm process: full {result['in_process_full_p50_s']:.2f} s, selective "
           f"{result['in_process_selective_p50_s']:.2f} s: {result['in_process_full_vs_selective']:.2f}x"]
          if result.get("in_process_full_p50_s") else []),
        f"first run (every model, fresh lakehouse): {result['first_build_s']:.1f} s",
    ]
    return "\n".join(lines)


def from_state(work: Path, quick: bool = False) -> dict[str, Any]:
    """The figures of an interrupted ``--keep`` run, from its state folder (instance + catalog).

    The drops are the sensor's successful runs after the first (whole-graph) one;
    commit -> gold ends at the run's end (the run publishes the DuckDB file before
    it ends; a live read then adds ~0.2 s, run_end_to_gold = 0 here). The CLI builds
    run afresh on that lakehouse (stop its daemon first).
    """
    bench = Bench(work, load_settings().sensor_interval_seconds)
    os.environ["DAGSTER_HOME"] = str(bench.home)
    bench.instance = dg.DagsterInstance.get()
    runs = sorted(bench.instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: SENSOR_NAME},
                                                                 statuses=[dg.DagsterRunStatus.SUCCESS])),
                  key=lambda r: bench.instance.get_run_record_by_id(r.run_id).create_timestamp)  # type: ignore[union-attr]
    table_ = bench.lake.catalog.load_table((bench.settings.bronze_namespace, "ecoride_sales"))
    snapshots = {snap.snapshot_id: snap for snap in table_.snapshots()}
    first, later = runs[0], runs[1:]
    drops = []
    for run in later:
        record = bench.instance.get_run_record_by_id(run.run_id)
        assert record is not None and record.start_time is not None and record.end_time is not None
        snapshot = snapshots[int(run.tags[TAG_SNAPSHOTS].split("=", 1)[1])]
        committed, created = snapshot.timestamp_ms / 1000, record.create_timestamp.timestamp()
        tick = bench.tick_time(run.run_id)
        step_start, step_end = bench.step_times(run.run_id)
        drops.append(Drop(
            file=run.tags.get(TAG_SNAPSHOTS, ""), rows=int((snapshot.summary or {}).get("added-records", 0)),
            commit_to_gold=record.end_time - committed, commit_to_tick=tick - committed,
            tick_to_run_created=created - tick, created_to_started=record.start_time - created,
            started_to_dbt_done=step_end - record.start_time, dbt_step=step_end - step_start,
            dbt_done_to_run_end=record.end_time - step_end, run_end_to_gold=0.0, models_run=len(run.asset_selection or ()),
        ))
    first_record = bench.instance.get_run_record_by_id(first.run_id)
    assert first_record is not None and first_record.end_time is not None
    first_s = first_record.end_time - first_record.create_timestamp.timestamp()
    repeats = 1 if quick else 3
    full = [bench.dbt_build() for _ in range(repeats)]
    selective = [bench.dbt_build("source:bronze.ecoride_sales+") for _ in range(repeats)]
    bench.instance.dispose()
    return summarise(drops, first_s, full, selective, graph_models(), bench.settings.sensor_interval_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_orchestration", description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="one CLI build of each kind instead of three")
    parser.add_argument("--sensor-interval", type=int, default=None, help="seconds (default: the settings')")
    parser.add_argument("--keep", action="store_true", help="keep the temp state folder (logs, instance)")
    parser.add_argument("--scale", type=float, default=None,
                        help="start bronze with the generator's sales and customers at this scale (drops: 300 new sales)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="with --scale: where the generated files are kept between runs (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--from-state", type=Path, default=None,
                        help="figures of an interrupted --keep run: its temp folder (bench-orchestration-*)")
    args = parser.parse_args(argv)
    if args.from_state:
        result = from_state(args.from_state, args.quick)
    else:
        result = run(args.drops, args.quick, args.sensor_interval, args.keep, args.scale, args.workdir)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
