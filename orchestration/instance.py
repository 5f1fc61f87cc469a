"""The local Dagster instance (``<state_dir>/dagster``) that ``lakehouse up`` and ``python -m orchestration.dev`` run.

Runs, ticks and the event log live beside the warehouse, never in the user's
home. Its ``dagster.yaml``:

* no telemetry;
* one dbt process at a time for every run (sensor, ``full_rebuild``, "Materialize
  all"): the DuckDB file takes one writer;
* the run queue looked at every second, not every 5 s (a bronze commit waits for it);
* runs start in a worker that imported the code location ahead of them
  (:class:`orchestration.launcher.WarmRunLauncher`);
* the event log keeps its SQLite connections open between events
  (:class:`orchestration.event_log.PooledSqliteEventLogStorage`; same files as Dagster's default).

The file is ours while its first line is :data:`MANAGED`: it is rewritten when
these settings change. Delete that line to keep your own edits.
"""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.settings import Settings
from lakehouse.state import private_dir, write_private

MANAGED = "# Written by the lakehouse (orchestration/instance.py); delete this line to keep your own edits."


def instance_yaml(home: Path) -> str:
    """The managed ``dagster.yaml`` of the instance in ``home``."""
    return f"""\
{MANAGED}
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
run_queue:
  dequeue_interval_seconds: 1
run_launcher:
  module: orchestration.launcher
  class: WarmRunLauncher
event_log_storage:
  module: orchestration.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {json.dumps(str(home / "history" / "runs"))}
"""


# What earlier versions wrote (without the marker): still ours to replace.
EARLIER = (
    "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n",
    "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\nrun_queue:\n  dequeue_interval_seconds: 1\n",
)


def dagster_home(settings: Settings) -> Path:
    """``<state_dir>/dagster`` (private) with the current ``dagster.yaml`` unless the user made it theirs."""
    home = private_dir(settings.state_dir / "dagster")
    config = home / "dagster.yaml"
    wanted = instance_yaml(home)
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if current != wanted and (current is None or current.startswith(MANAGED) or current in EARLIER):
        write_private(config, wanted)
    return home
