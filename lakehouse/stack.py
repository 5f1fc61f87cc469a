"""``lakehouse up`` / ``lakehouse down``: the whole lakehouse on a laptop in one command.

``up`` starts, in this order and each as its own process group so one Ctrl-C
stops them in the right order: the native services (``--services native``
only; those already running are reused), the listener (folder watch when
embedded, Kafka otherwise; on the native stack it signs with its own
least-privilege MinIO key, ``LAKEHOUSE_LISTENER_CREDENTIALS=listener``), and
Dagster (webserver and daemon, so ``bronze_sensor`` ticks). On the first start
it drops the committed sample into the landing folder or bucket. It prints
where to drop files and the dashboard's address, then waits. Ctrl-C or SIGTERM
(which ``lakehouse down`` sends) stops the listener first (it finishes its
batch), then Dagster, then the native services ``up`` itself started; a child
that dies on its own stops the rest and ``up`` exits non-zero with its log's tail.

Before Dagster's two processes start, a fresh instance's SQLite storage is made
once (both would create its tables at the same time, and one would die of it).
What the children started themselves (Dagster's code servers leave their
parent's process group) is stopped after them, so nothing outlives ``up``.

Hazard: ``down`` signals the pids ``up`` recorded in ``<state>/up.json`` only
while they still run our commands with this state folder (see :func:`_ours`),
so a recycled pid is never killed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from lakehouse.errors import LakehouseError
from lakehouse.services.process import pid_alive, signal_group
from lakehouse.settings import Settings
from lakehouse.state import private_dir, write_private
from orchestration.instance import dagster_home

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
START_TIMEOUT_S = 180.0
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"


@dataclass
class Child:
    """One process that ``up`` started."""

    name: str
    argv: list[str]
    log_file: Path
    # This child's own changes to the common environment (settings, env) -> env.
    env: Callable[[Settings, dict[str, str]], dict[str, str]] | None = field(default=None, repr=False)
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, settings: Settings, env: dict[str, str]) -> None:
        own = self.env(settings, env) if self.env is not None else env
        with open(self.log_file, "ab") as out:
            self.popen = subprocess.Popen(self.argv, env=own, cwd=settings.project_root, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs: killing it", self.name, timeout)
            signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


def init_dagster_instance(settings: Settings, env: dict[str, str]) -> None:
    """Create a fresh instance's SQLite storage before the daemon and the webserver start:
    both would create its tables at once and one dies of ``table ... already exists``."""
    home = dagster_home(settings)
    if (home / "history" / "runs.db").exists() and (home / "schedules" / "schedules.db").exists():
        return
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "instance", "migrate"], env=env, cwd=settings.project_root,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise LakehouseError(f"creating the Dagster instance in {home} failed: {_tail(result.stdout + result.stderr)}")


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of every child: the caller's, with the mode and Dagster's home pinned."""
    env = dict(os.environ, LAKEHOUSE_MODE=settings.mode, LAKEHOUSE_STATE_DIR=str(settings.state_dir),
               DAGSTER_HOME=str(dagster_home(settings)), DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    return env


def listener_env(settings: Settings, env: dict[str, str]) -> dict[str, str]:
    """The listener's environment: on the native stack it signs with its own MinIO key
    (made by ``lakehouse services up``) unless LAKEHOUSE_LISTENER_CREDENTIALS says otherwise."""
    if settings.mode == "embedded":
        return env
    return {"LAKEHOUSE_LISTENER_CREDENTIALS": "listener", **env}


def plan(settings: Settings, dagster_port: int, listener_args: list[str]) -> list[Child]:
    """The processes of ``up``, in start order (stopped in order too: the listener first)."""
    bin_dir = Path(sys.executable).parent
    logs = private_dir(settings.state_dir / "logs")
    location = ["-m", "orchestration.definitions"]
    return [
        Child("listener", [sys.executable, "-m", "listener", *listener_args], logs / "listener.log", env=listener_env),
        Child("dagster-daemon", [str(bin_dir / "dagster-daemon"), "run", *location], logs / "dagster-daemon.log"),
        Child("dagster-webserver", [str(bin_dir / "dagster-webserver"), *location, "-h", settings.host,
                                    "-p", str(dagster_port)], logs / "dagster-webserver.log"),
    ]


def prepare_dbt(settings: Settings, env: dict[str, str]) -> None:
    """Build the dbt manifest Dagster reads (explicitly, never as an import side effect)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "orchestration.prepare"], env=env, cwd=settings.project_root,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise LakehouseError(f"preparing the dbt manifest failed: {_tail(result.stdout + result.stderr)}")
    log.info("dbt manifest ready in %.1fs", time.monotonic() - started)


def drop_sample(settings: Settings) -> int:
    """Drop the committed sample (first start only); returns the number of files dropped."""
    marker = settings.state_dir / "sample-dropped"
    if marker.exists():
        return 0
    from lakehouse.drop import drop_files  # noqa: PLC0415 - the S3 client is only needed here

    files = sorted(p for p in (SAMPLE_DIR / "raw").rglob("*") if p.is_file())
    dropped = drop_files(settings, files, base=SAMPLE_DIR)
    write_private(marker, json.dumps({"files": len(dropped), "at": time.time()}))
    return len(dropped)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def wait_until(what: str, ready: Callable[[], bool], children: list[Child], timeout: float = START_TIMEOUT_S) -> None:
    """Wait for ``ready``; fail early if a child died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [c for c in children if not c.alive()]
        if dead:
            raise LakehouseError(f"{dead[0].name} exited while starting; its log ({dead[0].log_file}):\n"
                                 + _tail(dead[0].log_file.read_text(errors="replace")))
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise LakehouseError(f"{what} did not answer within {timeout:.0f}s; see {settings_logs(children)}")


def settings_logs(children: list[Child]) -> str:
    return ", ".join(str(c.log_file) for c in children)


class Stack:
    """The processes of one ``lakehouse up``."""

    def __init__(self, settings: Settings, dagster_port: int, listener_port: int, sample: bool) -> None:
        self.settings = settings
        self.dagster_port = dagster_port
        self.listener_port = listener_port
        self.sample = sample
        self.children = plan(settings, dagster_port, ["--metrics-port", str(listener_port)])
        self.started_services: list[str] = []  # native services this `up` started (and so stops)
        self._stopping = False

    @property
    def dashboard(self) -> str:
        return f"http://{self.settings.host}:{self.dagster_port}"

    def start(self) -> None:
        private_dir(self.settings.state_dir)
        if self.settings.mode != "embedded":
            self._start_services()
        env = child_env(self.settings)
        from warehouse.dbt import duckdb_path  # noqa: PLC0415 - dbt's side, only needed here

        # dbt's DuckDB file lives there in every mode; only the embedded catalog makes the folder.
        private_dir(duckdb_path(self.settings).parent)
        print("preparing the dbt project ...", flush=True)
        prepare_dbt(self.settings, env)
        init_dagster_instance(self.settings, env)
        for child in self.children:
            child.start(self.settings, env)
        pids = {"up": os.getpid()} | {c.name: c.popen.pid for c in self.children if c.popen is not None}
        write_private(self.settings.state_dir / "up.json", json.dumps(pids))
        # So `lakehouse status` finds this stack's ports without being told them.
        write_private(self.settings.state_dir / "up-endpoints.json", json.dumps(
            {"mode": self.settings.mode, "dagster_port": self.dagster_port, "listener_port": self.listener_port}))
        health = f"http://{self.settings.host}:{self.listener_port}/healthz"
        wait_until("the listener", lambda: requests.get(health, timeout=2).ok, self.children)
        wait_until("the Dagster webserver", lambda: requests.get(f"{self.dashboard}/server_info", timeout=2).ok,
                   self.children)
        dropped = drop_sample(self.settings) if self.sample else 0
        self._announce(dropped)

    def _start_services(self) -> None:
        from lakehouse.services.manager import SERVICE_NAMES, ServiceManager  # noqa: PLC0415

        manager = ServiceManager(self.settings)
        running = {s.name for s in manager.status() if s.pid is not None}
        self.started_services = [name for name in SERVICE_NAMES if name not in running]
        if running:
            print(f"reusing running {', '.join(sorted(running))} (left running on exit)", flush=True)
        if self.started_services:
            print(f"starting {', '.join(self.started_services)} (first time: builds and downloads, several minutes) ...",
                  flush=True)
        manager.up()

    def _announce(self, dropped: int) -> None:
        s = self.settings
        where = (f"  drop files into {s.landing_dir / 'raw'}/<dataset>/ (or: lakehouse drop FILE --to raw/ecoride/sales/)"
                 if s.mode == "embedded" else
                 f"  upload to s3://{s.bucket}/{s.raw_prefix} (lakehouse mc cp FILE local/{s.bucket}/raw/ecoride/sales/)")
        print("\nthe lakehouse is up")
        print(where)
        print(f"  dashboard  {self.dashboard}  (asset graph, bronze_sensor ticks, runs)")
        mode = "" if s.mode == "embedded" else f"LAKEHOUSE_MODE={s.mode} "
        print(f"  query      {mode}lakehouse query \"select * from gold.sales_monthly limit 5\"")
        print(f"  logs       {s.state_dir / 'logs'}/")
        if dropped:
            print(f"  the sample ({dropped} files) was dropped: it reaches gold in about a minute")
        print("Ctrl-C stops everything.", flush=True)

    def wait(self) -> int:
        """Block until a signal or a child's death; returns the exit code."""
        while not self._stopping:
            for child in self.children:
                if not child.alive():
                    code = child.popen.returncode if child.popen else 1
                    print(f"lakehouse: {child.name} exited ({code}); stopping the rest. "
                          f"Its log:\n{_tail(child.log_file.read_text(errors='replace'))}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        self._stopping = True
        # Dagster's code servers and run workers leave their parents' process groups,
        # so what the children started is looked up now and stopped after them.
        family = _descendants({c.popen.pid for c in self.children if c.alive() and c.popen is not None})
        for child in self.children:  # the listener first: it finishes its batch
            child.stop()
        _stop_all(family)
        (self.settings.state_dir / "up.json").unlink(missing_ok=True)
        (self.settings.state_dir / "up-endpoints.json").unlink(missing_ok=True)
        if self.started_services:
            from lakehouse.services.manager import ServiceManager  # noqa: PLC0415

            stopped = ServiceManager(self.settings).down(self.started_services)
            print(f"stopped {', '.join(stopped) or 'no services'}", file=sys.stderr, flush=True)


def _ours(pid: int, name: str, settings: Settings) -> bool:
    """Whether ``pid`` still runs what ``up`` recorded under ``name`` (not a recycled pid):
    ``up`` itself, or a child of it with this state folder in its environment."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if name == "up":
        return b"up" in args and any(b"lakehouse" in a for a in args)
    command = b" ".join(args)
    return (b"listener" in command or b"orchestration.definitions" in command) and \
        f"LAKEHOUSE_STATE_DIR={settings.state_dir}".encode() in environ


def _descendants(roots: set[int]) -> set[int]:
    """Every process below ``roots`` right now (from /proc's parent pids)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    found, todo = set(), list(roots)
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _stop_all(pids: set[int], timeout: float = 10.0) -> None:
    """SIGTERM whatever of ``pids`` still runs, SIGKILL what is left after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _wait_gone(sorted(pids), 0.0)
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        pids = set(_wait_gone(left, timeout))
        if not pids:
            return


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs; returns those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in pids if pid_alive(p)]
        if not pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.2)


def up_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.services == "native":
        settings = dataclasses.replace(settings, mode="native")
    stack = Stack(settings, args.dagster_port, args.listener_port, sample=not args.no_sample)

    def on_signal(signum: int, _frame: object) -> None:
        stack._stopping = True  # noqa: SLF001 - the loop in wait() sees it

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.start()
        code = stack.wait()
    finally:
        print("stopping ...", file=sys.stderr, flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stack.stop()
    return code


def down_command(args: argparse.Namespace, settings: Settings) -> int:
    """Stop a running ``lakehouse up`` (and, with --services, the native services).

    ``up`` gets SIGTERM, as from Ctrl-C, and stops its children and the services
    it started itself; its children are signalled directly only when ``up`` is
    gone (killed). Returns once they have exited.
    """
    record = settings.state_dir / "up.json"
    stopped: list[str] = []
    if record.exists():
        pids = {name: int(pid) for name, pid in json.loads(record.read_text()).items()}
        ours = {name: pid for name, pid in pids.items() if _ours(pid, name, settings)}
        if "up" in ours:
            os.kill(ours["up"], signal.SIGTERM)
        else:
            for pid in ours.values():
                signal_group(pid, signal.SIGTERM)
        left = _wait_gone(list(ours.values()), STOP_TIMEOUT_S * (len(ours) + 1))
        if left:
            raise LakehouseError(f"pids {', '.join(map(str, left))} did not stop within the timeout; see {settings.state_dir / 'logs'}/")
        stopped = [name for name in ours if name != "up"]
        record.unlink(missing_ok=True)
    if args.services:
        from lakehouse.services.manager import ServiceManager  # noqa: PLC0415

        stopped += ServiceManager(dataclasses.replace(settings, mode="native")).down()
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def add_up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--services", choices=("embedded", "native"), default=None,
                   help="embedded (default: folder + SQLite, no services) or native (start MinIO, Kafka, Nessie)")
    p.add_argument("--no-sample", action="store_true", help="do not drop the committed sample on the first start")
    p.add_argument("--dagster-port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    p.add_argument("--listener-port", type=int, default=9108, help="port of the listener's /healthz and /metrics")
    p.set_defaults(func=up_command)


def add_down_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--services", action="store_true", help="also stop the native MinIO, Kafka and Nessie")
    p.set_defaults(func=down_command)


def register(subcommands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    subcommands.setdefault("up", ("run the whole lakehouse: listener, Dagster (and --services native)", add_up_arguments))
    subcommands.setdefault("down", ("stop what `lakehouse up` started", add_down_arguments))
