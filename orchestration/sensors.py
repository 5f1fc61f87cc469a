"""``bronze_sensor``: rebuild exactly the dbt models fed by bronze tables that changed.

Each tick reads the current snapshot id of every bronze table (catalog metadata,
no data), compares it with the ids in the sensor's JSON cursor and, for the
tables whose data changed, records a materialization of the bronze asset and
requests ONE run selecting the dbt models downstream of all of them.

While a previous run of this sensor (or a whole-graph run) is still active, the
tick skips without reading or advancing the cursor: the changes pile up and the
next run covers them all. That is what keeps a single DuckDB file with one
writer safe — Dagster's declarative automation would start a second run for
other models meanwhile (DESIGN §7).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import dagster as dg
from pyiceberg.catalog import Catalog

from orchestration.bronze import bronze_key, bronze_tables
from orchestration.lineage import ModelGraph
from orchestration.snapshots import TableChange, current_snapshot_ids, describe_change

log = logging.getLogger(__name__)

SENSOR_NAME = "bronze_sensor"
# A run in one of these states still holds (or will hold) the DuckDB writer.
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
SENSOR_NAME_TAG = "dagster/sensor_name"  # set by Dagster on every run a sensor launches
TAG_TABLES = "lakehouse/bronze_tables"
TAG_SNAPSHOTS = "lakehouse/bronze_snapshots"
TAG_FILES = "lakehouse/bronze_files"
TAG_ROWS = "lakehouse/bronze_rows"
TAG_UNBUILT = "lakehouse/unbuilt_inputs"
# Dagster's sensor daemon looks at sensors on a fixed 5 s loop and counts a sensor's
# minimum interval from the END of its previous tick. A tick takes up to ~1 s, so a
# minimum interval of exactly N makes every other look come too early and ticks drift
# to 2N (measured: 5 s configured -> 5 s and 10 s gaps, mixed). Asking for N - 1 gives
# a tick every N s as configured (rounded up to the daemon's 5 s loop).
TICK_SLACK_SECONDS = 1


def minimum_interval(interval_seconds: int) -> int:
    """The minimum_interval_seconds that makes ticks start every ``interval_seconds`` (see TICK_SLACK_SECONDS)."""
    return max(1, interval_seconds - TICK_SLACK_SECONDS)


@dataclass(frozen=True)
class Cursor:
    """The last snapshot id the sensor acted on, per bronze table."""

    snapshots: Mapping[str, int]

    @classmethod
    def parse(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls({})
        data = json.loads(raw)
        return cls({str(k): int(v) for k, v in data.get("snapshots", {}).items()})

    def dump(self) -> str:
        return json.dumps({"snapshots": dict(sorted(self.snapshots.items()))}, sort_keys=True)


def active_blocking_run(instance: dg.DagsterInstance, sensor_name: str, blocking_jobs: frozenset[str]) -> dg.DagsterRun | None:
    """An active run launched by this sensor or of a whole-graph job, if any."""
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_STATUSES), limit=100):
        if run.tags.get(SENSOR_NAME_TAG) == sensor_name or run.job_name in blocking_jobs:
            return run
    return None


def materialization(change: TableChange, now: float) -> dg.AssetMaterialization:
    """The bronze asset's materialization: what the new snapshots added."""
    metadata: dict[str, object] = {
        "snapshot_id": str(change.snapshot_id),  # 64-bit: as text, JavaScript would round it
        "rows_added": change.rows_added,
        "data_files_added": change.data_files_added,
        "source_files_added": change.source_files,
        "snapshots": change.snapshots,
        "counts_complete": change.complete,
        "sample_source_keys": dg.MetadataValue.json(list(change.sample_keys)),
        # How long after the bronze commit the sensor saw it (the first leg of the latency).
        "seconds_since_commit": round(now - change.committed_ms / 1000, 3),
    }
    return dg.AssetMaterialization(asset_key=bronze_key(change.table), metadata=metadata,
                                   description=f"{change.rows_added} rows from {change.source_files} files")


def never_built(instance: dg.DagsterInstance, keys: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    """The models among ``keys`` that have no materialization in this instance."""
    return {key for key in keys if instance.get_latest_materialization_event(key) is None}


def run_request(changes: list[TableChange], selection: set[dg.AssetKey], unbuilt: set[dg.AssetKey]) -> dg.RunRequest:
    """ONE run for all triggering tables, tagged with what triggered it."""
    snapshots = ",".join(f"{c.table}={c.snapshot_id}" for c in changes)
    return dg.RunRequest(
        # The snapshots ARE the work: if the daemon evaluates the same change twice
        # (a crash between launching and storing the cursor) Dagster drops the
        # second request with the same key instead of running dbt again.
        run_key=f"bronze:{snapshots}",
        asset_selection=sorted(selection | unbuilt, key=lambda k: k.to_user_string()),
        tags={
            TAG_TABLES: ",".join(c.table for c in changes),
            TAG_SNAPSHOTS: snapshots,
            TAG_FILES: str(sum(c.source_files for c in changes)),
            TAG_ROWS: str(sum(c.rows_added for c in changes)),
            TAG_UNBUILT: str(len(unbuilt)),
        },
    )


def evaluate(
    context: dg.SensorEvaluationContext,
    catalog: Catalog,
    namespace: str,
    graph: ModelGraph,
    clock: Callable[[], float],
    blocking_jobs: frozenset[str] = frozenset(),
    name: str = SENSOR_NAME,
) -> dg.SensorResult | dg.SkipReason:
    """One tick (the sensor's body, with everything it depends on passed in)."""
    active = active_blocking_run(context.instance, name, blocking_jobs)
    if active is not None:
        # Not reading the catalog and not moving the cursor: what changed meanwhile
        # is still "new" on the first tick after the run ends, in ONE run.
        return dg.SkipReason(f"run {active.run_id} ({active.job_name}) is {active.status.value}; "
                             "new bronze snapshots wait for it")
    previous = Cursor.parse(context.cursor)
    current = current_snapshot_ids(catalog, namespace, bronze_tables())
    moved = sorted(t for t, sid in current.items() if previous.snapshots.get(t) != sid)
    cursor = Cursor(current).dump()
    if not moved:
        return dg.SensorResult(skip_reason="no new bronze snapshot", cursor=cursor)
    now = clock()
    changes = [describe_change(catalog, namespace, t, previous.snapshots.get(t)) for t in moved]
    changes = [c for c in changes if c.data_changed]
    if not changes:
        return dg.SensorResult(skip_reason=f"new snapshots without new data in {', '.join(moved)}", cursor=cursor)
    events = [materialization(c, now) for c in changes]
    selection = graph.downstream(bronze_key(c.table) for c in changes)
    if not selection:
        return dg.SensorResult(asset_events=events, cursor=cursor,
                               skip_reason=f"no dbt model reads {', '.join(c.table for c in changes)}")
    # Models never built (a fresh lakehouse, a new or so far failing model) join the
    # run: a selected model or one of its dbt tests (relationships) may read them.
    unbuilt = never_built(context.instance, graph.models - selection)
    log.info("bronze changed: %s -> %d models (+%d never built)",
             ", ".join(f"{c.table}+{c.rows_added}" for c in changes), len(selection), len(unbuilt))
    return dg.SensorResult(run_requests=[run_request(changes, selection, unbuilt)], asset_events=events, cursor=cursor)


def build_bronze_sensor(
    *,
    open_catalog: Callable[[], Catalog],
    namespace: str,
    graph: ModelGraph,
    target: object,
    interval_seconds: int,
    clock: Callable[[], float] = time.time,
    blocking_jobs: frozenset[str] = frozenset(),
    name: str = SENSOR_NAME,
) -> dg.SensorDefinition:
    """The bronze sensor, with the catalog, model graph and clock injected (tests pass their own)."""

    @dg.sensor(
        name=name,
        target=target,
        minimum_interval_seconds=minimum_interval(interval_seconds),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Every few seconds: reads the current snapshot of each bronze Iceberg table (metadata only); "
            "for tables with new data records a bronze materialization and launches ONE run of exactly the "
            "dbt models downstream of them. Waits while its previous run is active; changes coalesce."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        return evaluate(context, open_catalog(), namespace, graph, clock, blocking_jobs, name)

    return _sensor
