"""``WarmRunLauncher``: Dagster runs start in a worker that imported the code location before the run.

Measured on the sensor's path (docs/orchestration.md, "Latency"): between a run's
creation and its first step, Dagster's default launcher spends ~5 s starting a
Python process and importing the code location — dagster, dagster-dbt with
dbt-core, pyiceberg — on every bronze commit. This launcher keeps one spare
worker (``python -m orchestration.run_worker``) that has done that already and
hands it the next run over its standard input. The next spare starts when that
run's worker has exited, so its imports never compete with a running dbt.
Configured in the local instance's ``dagster.yaml`` (orchestration/instance.py)::

    run_launcher:
      module: orchestration.launcher
      class: WarmRunLauncher

What stays as Dagster does it: the run executes through ``dagster api execute_run``'s
own code path, from the origin the run carries, writing the same event log.
What differs:

* a spare is used only while nothing it loaded can have changed: a file under
  ``watch`` (the project's Python packages, the dbt manifest) newer than the spare
  means a fresh worker for this run, as Dagster's launcher would start;
* the worker's pid is a run tag, so ``terminate`` (from the UI's process or the
  daemon's) interrupts the worker like Ctrl-C, and Dagster marks the run canceled;
* a spare whose launcher process goes away reads end-of-input and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import Array, Field
from dagster._core.launcher.base import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass, ConfigurableClassData

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_MODULE = "orchestration.run_worker"
WORKER_PID_TAG = "lakehouse/run_worker_pid"
DEFAULT_PRELOAD = ("orchestration.definitions",)
DEFAULT_WATCH = ("orchestration", "warehouse", "ingestion", "lakehouse", "transformation/target/manifest.json")


@dataclass
class Worker:
    popen: subprocess.Popen[str]
    executable: str
    started: float  # wall clock, compared with file mtimes


def newest_mtime(paths: Sequence[Path]) -> float:
    """The newest modification time among ``paths`` (a folder: its ``*.py`` files, recursively)."""
    newest = 0.0
    for path in paths:
        files = path.rglob("*.py") if path.is_dir() else [path]
        for file in files:
            try:
                newest = max(newest, file.stat().st_mtime)
            except FileNotFoundError:
                continue
    return newest


def is_run_worker(pid: int) -> bool:
    """Whether ``pid`` is one of our run workers (never signal a pid that was reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return WORKER_MODULE.encode() in cmdline


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a worker process started, with the code location imported, ahead of it."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload: Sequence[str] = DEFAULT_PRELOAD,
                 watch: Sequence[str] = DEFAULT_WATCH) -> None:
        self._inst_data = inst_data
        self.preload = tuple(preload)
        self.watch = tuple(p if Path(p).is_absolute() else PROJECT_ROOT / p for p in map(Path, watch))
        self._lock = threading.Lock()
        self._spare: Worker | None = None
        self._launched: list[subprocess.Popen[str]] = []
        self._disposed = False
        super().__init__()

    # -- ConfigurableClass ---------------------------------------------------
    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "preload": Field(Array(str), is_required=False, default_value=list(DEFAULT_PRELOAD),
                             description="modules the spare worker imports ahead of its run (the code location)"),
            "watch": Field(Array(str), is_required=False, default_value=list(DEFAULT_WATCH),
                           description="files or package folders (relative to the project) whose change retires "
                                       "the spare"),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    # -- RunLauncher ---------------------------------------------------------
    def launch_run(self, context: LaunchRunContext) -> None:
        from dagster._grpc.types import ExecuteRunArgs
        from dagster._serdes import serialize_value

        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            raise RuntimeError(f"run {run.run_id} has no code origin to execute")
        args = ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        with self._lock:
            self._reap()
            worker, warm = self._take(origin.executable_path or sys.executable)
            self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: str(worker.popen.pid)})
            assert worker.popen.stdin is not None
            worker.popen.stdin.write(serialize_value(args) + "\n")
            worker.popen.stdin.close()
            self._launched.append(worker.popen)
            self._instance.report_engine_event(
                f"Run worker pid {worker.popen.pid}: "
                + ("started ahead of the run, code location already imported" if warm else "started for this run"),
                run, cls=self.__class__,
            )
        # The next spare starts when this run's worker has exited: its imports (~3 s of CPU)
        # would otherwise compete with the run's dbt on a small machine (measured: the dbt
        # step took 1.5-2 s longer). The sensor launches no run while one is active anyway.
        threading.Thread(target=self._replenish_after, args=(worker.popen,), daemon=True,
                         name=f"spare-after-{worker.popen.pid}").start()

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        pid = run.tags.get(WORKER_PID_TAG)
        self._instance.report_run_canceling(run)
        if pid is None or not is_run_worker(int(pid)):
            self._instance.report_engine_event("The run's worker process is gone; nothing to interrupt.", run,
                                               cls=self.__class__)
            return False
        os.kill(int(pid), signal.SIGINT)  # Dagster's run worker turns it into a clean interruption
        return True

    def dispose(self) -> None:
        with self._lock:
            self._disposed = True
            if self._spare is not None:
                self._retire(self._spare)
                self._spare = None

    # -- workers -------------------------------------------------------------
    def _replenish_after(self, popen: subprocess.Popen[str]) -> None:
        popen.wait()
        with self._lock:
            if self._spare is None and not self._disposed:
                self._spare = self._spawn(sys.executable)

    def _spawn(self, executable: str) -> Worker:
        popen = subprocess.Popen([executable, "-m", WORKER_MODULE, *self.preload], stdin=subprocess.PIPE,
                                 text=True, cwd=PROJECT_ROOT)
        return Worker(popen, executable, time.time())

    def _take(self, executable: str) -> tuple[Worker, bool]:
        """The spare if it is alive, for this interpreter and no older than the code; else a new worker."""
        spare, self._spare = self._spare, None
        if spare is not None:
            fresh = spare.popen.poll() is None and spare.executable == executable
            if fresh and newest_mtime(self.watch) < spare.started:
                return spare, True
            self._retire(spare)
        return self._spawn(executable), False

    def _retire(self, worker: Worker) -> None:
        """An unused spare: closing its input ends it (it reads end-of-input)."""
        if worker.popen.stdin is not None and not worker.popen.stdin.closed:
            worker.popen.stdin.close()
        self._launched.append(worker.popen)

    def _reap(self) -> None:
        self._launched = [p for p in self._launched if p.poll() is None]
