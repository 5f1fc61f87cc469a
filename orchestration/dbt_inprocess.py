"""dbt inside the run worker, with dbt imported and the project parsed before the run arrives.

Measured on the sample (docs/orchestration.md, "Latency"): the sensor's selective
``dbt build`` takes 6.3 s from the CLI, of which 3.3 s is dbt starting — importing
dbt-core and the adapter (2.7 s of CPU) and loading its parse state — and about 3 s
is the build. A spare run worker (orchestration/run_worker.py) has nothing to do
until its run arrives, so it does the start then (:func:`warm_up`): it imports dbt
and parses the project into the runs' target folder. The run's ``dbt build`` then
runs in that process (dbt's programmatic ``dbtRunner`` with the parsed manifest,
https://docs.getdbt.com/reference/programmatic-invocations), and every dbt event goes
through dagster-dbt's own conversion into materializations and check results,
exactly as the CLI's JSON log lines do.

The CLI stays the path whenever the warm state does not fit the call: a cold
worker, Dagster's own launcher, tests executing in-process, another project
folder (dagster-dbt's generated selector for very large selections), or settings
that differ from those it was parsed with. A project file changed since the
parse means a new parse first (partial, well under a second), never stale SQL.

One in-process dbt invocation per worker: a run worker executes one run and exits
(orchestration/launcher.py), which also releases DuckDB's file lock for good.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

log = logging.getLogger(__name__)

# Files whose change makes a parsed manifest stale (dbt's own inputs; target/ and logs/ are outputs).
PROJECT_SUFFIXES = frozenset({".sql", ".yml", ".yaml", ".csv", ".md", ".py", ".jinja"})
PROJECT_OUTPUTS = frozenset({"target", "logs", "dbt_packages"})
CHANGE_MARGIN_S = 2.0  # coarse file-system clocks: a change this close to the parse counts as after it
CANCEL_WAIT_S = 25.0  # how long an interrupted run waits for dbt to stop (dagster-dbt waits 25 s for the CLI)
ENV_PREFIXES = ("LAKEHOUSE_", "DBT_", "DREMIO_", "AWS_")
ENV_NAMES = frozenset({"DO_NOT_TRACK"})
# Flags whose value the parse ahead already fixed (or that change what it would parse).
CLI_ONLY_FLAGS = frozenset({"--project-dir", "--profiles-dir", "--profile", "--target", "-t", "--target-path",
                            "--log-path", "--vars"})
THREAD_NAME = "dbt-in-process"
_DONE = object()


def project_changed_after(project_dir: Path, moment: float, margin: float = CHANGE_MARGIN_S) -> bool:
    """Whether a dbt input file under ``project_dir`` changed after ``moment`` (wall clock), less ``margin``."""
    for folder, dirs, files in os.walk(project_dir):
        if Path(folder) == project_dir:  # dbt's outputs, and the runs' own target folders (target-*)
            dirs[:] = [d for d in dirs if d not in PROJECT_OUTPUTS and not d.startswith(("target", "."))]
        # A folder counts too: deleting or renaming a model changes its folder, not the files left.
        entries = [Path(folder)] + [Path(folder, n) for n in files if Path(n).suffix in PROJECT_SUFFIXES]
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            if max(st.st_mtime, st.st_ctime) >= moment - margin:
                return True
    return False


def dbt_environment_now() -> dict[str, str]:
    """The variables a parse depends on: what profiles.yml, the project and the dbt plugin read."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}


@dataclass
class WarmDbt:
    """dbt imported in this process and the project parsed, for one project, target and environment."""

    project_dir: Path
    profiles_dir: Path
    target: str
    target_path: Path
    env: Mapping[str, str]  # what dbt read while parsing (holds secrets: never log it)
    manifest: Any  # dbt.contracts.graph.manifest.Manifest
    parsed_at: float = field(default_factory=time.time)
    # compile_macros on a thread until the run claims this dbt (take), so a run that arrives early never waits
    compiling: threading.Thread | None = None
    stop_compiling: threading.Event = field(default_factory=threading.Event)

    def finish_compiling(self) -> None:
        """Stop compiling macros ahead (those left compile when the build first calls them)."""
        self.stop_compiling.set()
        if self.compiling is not None:
            self.compiling.join()

    def common_args(self) -> list[str]:
        return ["--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles_dir),
                "--target", self.target, "--target-path", str(self.target_path), "--log-path", str(self.target_path),
                "--quiet"]  # dagster-dbt prints each event itself (stream_raw_events)

    def serves(self, project_dir: Path, profiles_dir: Path, target: str, target_path: Path) -> bool:
        """Whether this parse is the one a run with these parameters, in the current environment, needs."""
        return (Path(project_dir).resolve() == self.project_dir and Path(profiles_dir).resolve() == self.profiles_dir
                and target == self.target and Path(target_path).resolve() == self.target_path
                and dbt_environment_now() == dict(self.env))


_warm: WarmDbt | None = None
_lock = threading.Lock()


def warm_up(project_dir: Path, profiles_dir: Path, target: str, target_path: Path,
            compile_ahead: bool = True) -> WarmDbt:
    """Import dbt and parse the project (partial parse from ``target_path``) with the current environment.

    The caller sets the environment dbt reads (``orchestration.dbt.environment``).
    Raises RuntimeError when dbt cannot parse the project; the run then uses the CLI.
    """
    global _warm
    from dbt.cli.main import dbtRunner  # the import is most of what this saves

    warm = WarmDbt(Path(project_dir).resolve(), Path(profiles_dir).resolve(), target, Path(target_path).resolve(),
                   env={}, manifest=None)
    warm.env = dbt_environment_now()
    warm.target_path.mkdir(parents=True, exist_ok=True)
    result = dbtRunner().invoke(["parse", *warm.common_args()])
    close_dbt_log_files()
    if not result.success:
        raise RuntimeError(f"dbt parse failed in the run worker: {result.exception}")
    warm.manifest = result.result
    if compile_ahead:  # not when a run waits for this parse: its build compiles what it calls
        warm.compiling = threading.Thread(target=compile_macros, args=(warm.manifest, warm.stop_compiling),
                                          name="dbt-compile-macros", daemon=True)
        warm.compiling.start()
    with _lock:
        _warm = warm
    return warm


def compile_macros(manifest: Any, stop: threading.Event | None = None) -> int:  # noqa: ANN401 - dbt's Manifest
    """Compile every macro's Jinja template into dbt's template cache until ``stop``; returns how many compiled.

    A build compiles each macro it calls the first time a process calls it (dbt
    caches the template by its source): on the sample that was 0.6 s of a 3.2 s
    sensor run, paid by every run since every run has a fresh worker. The spare
    pays it instead, idle, before its run (584 macros: 1.4 s), on a thread that
    stops when the run claims the warm dbt, so an early run does not wait for it.
    A macro that does not compile is left out: the build raises dbt's own error
    where it calls it.
    """
    from dbt_common.clients.jinja import template_cache

    compiled = 0
    for macro in list(manifest.macros.values()):
        if stop is not None and stop.is_set():
            break
        try:
            template_cache.get_node_template(macro)
        except Exception:  # noqa: BLE001, S112 - reported by dbt, with its context, if the build uses it
            continue
        compiled += 1
    return compiled


def needs_cli(args: Sequence[str]) -> bool:
    """Arguments the parse ahead could not honour (it fixed the project, paths and vars)."""
    return any(arg.split("=", 1)[0] in CLI_ONLY_FLAGS for arg in args)


def still_running() -> bool:
    """Whether a dbt build of this process is still running (an interrupted run that did not stop)."""
    return any(t.name == THREAD_NAME and t.is_alive() for t in threading.enumerate())


def current() -> WarmDbt | None:
    """The warm dbt of this process, if :func:`warm_up` ran here."""
    return _warm


def take(project_dir: Path, profiles_dir: Path, target: str, target_path: Path) -> WarmDbt | None:
    """The warm dbt for a run with these parameters (parsed again if the project changed since), or None.

    Taken once: a second dbt call in the same worker uses the CLI (a parsed
    manifest is not reused across invocations).
    """
    global _warm
    with _lock:
        warm, _warm = _warm, None
    if warm is None:
        return None
    warm.finish_compiling()  # the build compiles what is left; never two threads in dbt's template cache
    if not warm.serves(project_dir, profiles_dir, target, target_path):
        now = dbt_environment_now()
        differ = sorted(k for k in set(now) | set(warm.env) if now.get(k) != warm.env.get(k))  # names only
        log.info("the worker's dbt was parsed for another call (environment differs in: %s); dbt runs as a "
                 "subprocess", ", ".join(differ) or "nothing")
        return None
    if project_changed_after(warm.project_dir, warm.parsed_at):
        log.info("dbt project changed since the worker parsed it: parsing again")
        try:
            warm = warm_up(warm.project_dir, warm.profiles_dir, warm.target, warm.target_path, compile_ahead=False)
        except RuntimeError:
            log.warning("parsing the changed project failed; dbt runs as a subprocess", exc_info=True)
            return None
        with _lock:
            _warm = None
    return warm


def close_dbt_log_files() -> None:
    """Close the dbt.log dbt opened for an invocation (its next invocation drops the handler unclosed)."""
    from dbt_common.events.event_manager_client import get_event_manager

    for dbt_logger in get_event_manager().loggers:
        python_logger = getattr(dbt_logger, "_python_logger", None)
        for handler in list(getattr(python_logger, "handlers", ())):
            if isinstance(handler, logging.FileHandler):
                handler.close()


def release_adapters(failed: bool) -> None:
    """Close every database dbt opened in this process, as the end of a dbt process would.

    dbt-duckdb keeps its DuckDB database open in a class attribute after an
    invocation; the publish step right after the build (and the next writer) must
    be able to open the file. After a successful build closing the adapters frees
    the file (checked: another process can open it for writing at once); after a
    failure, a traceback may still hold a cursor in a reference cycle, so a full
    garbage collection (0.2 s) follows.
    """
    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # closes the adapters' connections
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter (dremio): nothing held open in this process
        return
    env = DuckDBConnectionManager._ENV  # noqa: SLF001 - dbt-duckdb offers no public close
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()
    if failed:
        gc.collect()  # cursors an exception's frames still hold keep the database open until collected


class InProcessRun:
    """dbt's ``dbtRunner.invoke`` on a thread, its events as the dicts dbt's JSON log lines hold.

    Stands in for the ``subprocess.Popen`` a ``DbtCliInvocation`` holds: ``args``,
    ``returncode``, ``wait()`` and ``send_signal()`` are all it uses.
    """

    def __init__(self, warm: WarmDbt, args: Sequence[str]) -> None:
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import env_scrubber, msg_to_json

        self.args = ["dbt", *args, "(in the run worker's process)"]
        self.returncode: int | None = None
        self.stdout = None
        self._events: queue.Queue[Any] = queue.Queue()
        self._drained = False

        def forward(msg: Any) -> None:  # noqa: ANN401 - dbt's EventMsg
            # What the CLI prints at its default log level: debug events (every SQL statement, cache
            # and connection chatter) cost a conversion each and dagster-dbt uses none of them.
            if msg.info.level != "debug":  # and with secrets scrubbed, as in the CLI's JSON lines
                self._events.put(json.loads(env_scrubber(msg_to_json(msg))))

        self._runner = dbtRunner(manifest=warm.manifest, callbacks=[forward])
        # No manifest.json / run_results.json at the end (0.17 s of a 3 s build): the run's events carry
        # every result, and the worker parsed the manifest before the run. No dbt.log either: dbt logs
        # every SQL statement there at debug level, from each thread under one lock (0.4 s of a 2.6 s
        # build); the run's Dagster log holds dbt's info events, target/run/ the SQL that ran.
        self._argv = [*args, *warm.common_args(), "--no-write-json", "--log-level-file", "none"]
        self._thread = threading.Thread(target=self._invoke, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _invoke(self) -> None:
        try:
            result = self._runner.invoke(self._argv)
            # dbtRunner's exit codes: 0 success, 1 handled failure (a model or test failed), 2 crash.
            self.returncode = 0 if result.success else (2 if result.exception is not None else 1)
            if result.exception is not None:
                self._events.put({"info": {"name": "InProcessError", "level": "error",
                                           "msg": f"dbt raised: {result.exception!r}"}, "data": {}})
        except BaseException as exc:  # noqa: BLE001 - reported as the invocation's error, never lost in a thread
            self.returncode = 2
            self._events.put({"info": {"name": "InProcessError", "level": "error", "msg": f"dbt raised: {exc!r}"},
                              "data": {}})
        finally:
            try:
                release_adapters(failed=self.returncode != 0)
                close_dbt_log_files()
            except Exception:  # noqa: BLE001 - the worker exits after its run, which releases all of it
                log.warning("releasing dbt's connections after the build failed", exc_info=True)
            finally:
                self._events.put(_DONE)

    def events(self) -> Iterator[dict[str, Any]]:
        """dbt's events until it ends; nothing on later calls (as a subprocess's drained stdout)."""
        while not self._drained:
            try:
                event = self._events.get(timeout=0.2)  # a timeout keeps the consumer interruptible (Ctrl-C)
            except queue.Empty:
                if not self._thread.is_alive() and self._events.empty():  # ended without its marker
                    self._drained = True
                continue
            if event is _DONE:
                self._drained = True
                return
            yield event

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        return 2 if self.returncode is None else self.returncode

    def alive(self) -> bool:
        return self._thread.is_alive()

    def send_signal(self, _signal: int) -> None:
        """What the CLI gets on SIGINT: a KeyboardInterrupt in dbt, whose handler cancels its queries.

        The interrupt lands when dbt's thread next runs Python code; the running
        queries are cancelled at once as well, which is what lets it get there.
        """
        from dbt.adapters.factory import FACTORY

        if self._thread.ident is not None and self._thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread.ident),
                                                       ctypes.py_object(KeyboardInterrupt))
        for adapter in list(FACTORY.adapters.values()):
            try:
                adapter.cancel_open_connections()
            except Exception:  # noqa: BLE001 - best effort: the worker exits after the run anyway
                log.warning("cancelling dbt's open connections failed", exc_info=True)


class InProcessDbtInvocation(DbtCliInvocation):
    """A ``DbtCliInvocation`` whose events come from dbt in this process instead of a subprocess's stdout."""

    def _stream_stdout(self) -> Iterator[str | dict[str, Any]]:
        run: InProcessRun = self.process  # type: ignore[assignment]
        try:
            for event in run.events():
                if event["info"].get("level") == "error":
                    self._error_messages.append(event["info"]["msg"])
                yield event
        except BaseException:  # interrupted (run terminated): stop dbt's queries as the CLI would be stopped
            run.send_signal(2)
            run.wait(CANCEL_WAIT_S)
            raise
        run.wait()
