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
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from orchestration.run_worker import SPARE_FLAG

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_MODULE = "orchestration.run_worker"
WORKER_PID_TAG = "lakehouse/run_worker_pid"
DEFAULT_PRELOAD = ("orchestration.definitions",)
DEFAULT_WATCH = (".env", "orchestration", "warehouse", "ingestion", "lakehouse", "transformation/target/manifest.json")
RETIRE_WAIT_S = 30.0  # how long dispose waits for a retired spare before killing it
CHANGE_MARGIN_S = 2.0  # coarse file-system clocks: a change this close to a spare's start retires it


@dataclass
class Worker:
    popen: subprocess.Popen[str]
    executable: str
    started: float  # wall clock, compared with file mtimes


def newest_change(paths: Sequence[Path]) -> float:
    """The latest change among ``paths``: a folder's ``*.py`` files (recursively) and the folders themselves.

    Both mtime and ctime count: a file copied with its old mtime (``cp -p``, ``rsync -a``)
    still gets a new ctime, and a deleted or renamed module changes its folder.
    """
    newest = 0.0
    for path in paths:
        entries = [path]
        if path.is_dir():  # one walk: every folder (but bytecode caches) and its .py files
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                entries += [Path(folder, d) for d in dirs] + [Path(folder, f) for f in files if f.endswith(".py")]
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            newest = max(newest, st.st_mtime, st.st_ctime)
    return newest


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name start at field 3


def worker_tag(pid: int) -> str:
    """``PID:START``: a pid alone could be reused by another process by the time a run is terminated."""
    return f"{pid}:{_start_time(pid)}"


def live_worker_pid(tag: str | None) -> int | None:
    """The pid in a run's worker tag if that very process still runs our worker, else None."""
    if not tag or ":" not in tag:
        return None
    pid_text, start = tag.split(":", 1)
    pid = int(pid_text)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return pid if WORKER_MODULE.encode() in cmdline and _start_time(pid) == start else None


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a worker process started, with the code location imported, ahead of it."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload: Sequence[str] = DEFAULT_PRELOAD,
                 watch: Sequence[str] = DEFAULT_WATCH) -> None:
        self._inst_data = inst_data
        self.preload = tuple(preload)
        self.watch = tuple(p if Path(p).is_absolute() else PROJECT_ROOT / p for p in map(Path, watch))
        self._lock = threading.Lock()
        self._spare: Worker | None = None
        self._running: list[subprocess.Popen[str]] = []  # workers executing a run
        self._retired: list[subprocess.Popen[str]] = []  # spares told to exit, not reaped yet
        self._executable = sys.executable  # the last run's interpreter: the next spare's
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
        line = serialize_value(ExecuteRunArgs(job_origin=origin, run_id=run.run_id,
                                              instance_ref=self._instance.get_ref())) + "\n"
        with self._lock:
            self._reap()
            self._executable = origin.executable_path or sys.executable
            worker, warm = self._take(self._executable)
            try:
                handed = self._hand_over(worker, line)
            except OSError:  # the spare died since we looked (BrokenPipeError): a fresh worker, once
                self._retire(worker)
                worker, warm = self._spawn(self._executable), False
                handed = self._hand_over(worker, line)
            self._running.append(worker.popen)
        threading.Thread(target=self._after_exit, args=(worker.popen, run.run_id), daemon=True,
                         name=f"run-worker-{worker.popen.pid}").start()
        self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: handed})
        self._instance.report_engine_event(
            f"Run worker pid {worker.popen.pid}: " + ("started ahead of the run" if warm else "started for this run"),
            run, cls=self.__class__,
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid = live_worker_pid(run.tags.get(WORKER_PID_TAG))
        if pid is None:  # nothing can end it any more: say so and end it
            self._instance.report_run_canceled(run, message="Run canceled: its worker process was already gone.")
            return False
        os.kill(pid, signal.SIGINT)  # the worker turns it into Dagster's clean interruption
        return True

    def dispose(self) -> None:
        """Retire the spare and wait for every retired spare to end (runs in progress go on)."""
        with self._lock:
            self._disposed = True
            if self._spare is not None:
                self._retire(self._spare)
                self._spare = None
            retired, self._retired = self._retired, []
        for popen in retired:  # a spare still importing reads its end of input within seconds
            try:
                popen.wait(RETIRE_WAIT_S)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()

    # -- workers -------------------------------------------------------------
    def _hand_over(self, worker: Worker, line: str) -> str:
        """Give the worker its run; the run tag that identifies it (pid and start time)."""
        assert worker.popen.stdin is not None
        worker.popen.stdin.write(line)
        worker.popen.stdin.close()
        return worker_tag(worker.popen.pid)

    def _after_exit(self, popen: subprocess.Popen[str], run_id: str) -> None:
        """When a run's worker exits: end a run it left unfinished, then start the next spare.

        Dagster's code server does the first for the workers it starts; without it a
        worker killed by the OOM killer would leave its run STARTED for good, and the
        bronze sensor waits for active runs. The spare starts only now, and only when no
        other run's worker is still running: its imports (~3 s of CPU) slowed a running
        dbt by 1.5-2 s on two cores (measured).
        """
        code = popen.wait()
        run = self._instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            message = f"Run worker pid {popen.pid} exited with code {code} before the run ended."
            if run.status == DagsterRunStatus.CANCELING:
                self._instance.report_run_canceled(run, message=message)
            else:
                self._instance.report_run_failed(run, message=message)
        with self._lock:
            self._reap()
            if self._spare is None and not self._running and not self._disposed:
                self._spare = self._spawn(self._executable, spare=True)

    def _spawn(self, executable: str, spare: bool = False) -> Worker:
        """A worker; a ``spare`` (nothing else runs) also warms up what its run will need (run_worker.py)."""
        flags = [SPARE_FLAG] if spare else []
        popen = subprocess.Popen([executable, "-m", WORKER_MODULE, *flags, *self.preload], stdin=subprocess.PIPE,
                                 text=True, cwd=PROJECT_ROOT)
        return Worker(popen, executable, time.time())

    def _take(self, executable: str) -> tuple[Worker, bool]:
        """The spare if it is alive, for this interpreter and no older than the code; else a new worker."""
        spare, self._spare = self._spare, None
        if spare is not None:
            fresh = spare.popen.poll() is None and spare.executable == executable
            # A change within the clock's resolution of the spare's start counts as after it.
            if fresh and newest_change(self.watch) < spare.started - CHANGE_MARGIN_S:
                return spare, True
            self._retire(spare)
        return self._spawn(executable), False

    def _retire(self, worker: Worker) -> None:
        """An unused spare: closing its input ends it (it reads end-of-input)."""
        if worker.popen.stdin is not None and not worker.popen.stdin.closed:
            try:
                worker.popen.stdin.close()
            except OSError:
                pass  # already gone
        self._retired.append(worker.popen)

    def _reap(self) -> None:
        self._running = [p for p in self._running if p.poll() is None]
        self._retired = [p for p in self._retired if p.poll() is None]
