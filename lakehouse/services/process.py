"""Start, find and stop background processes that we own.

A started service gets its own session (process group), a log file and a pid
file. ``stop`` only signals a pid whose command line still carries the marker
we started it with, so a recycled pid or someone else's MinIO is never killed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import ServiceError
from lakehouse.state import open_private, private_dir, write_private

log = logging.getLogger(__name__)

# Popen objects of the services this process started: kept so they are reaped
# with poll() (no zombies) and never garbage-collected while still running.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ManagedProcess:
    """Where one service keeps its pid file and log, and how to recognise it."""

    name: str
    run_dir: Path  # <state>/services/<name>

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pid.json"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def read_pid(self) -> int | None:
        """The pid of our running process, or None.

        Never deletes the pid file: while a launcher execs (the JDK's does),
        /proc/<pid>/cmdline is briefly empty, and forgetting a live process is
        worse than keeping a stale file that the next start overwrites.
        """
        try:
            info = json.loads(self.pid_file.read_text(encoding="utf-8"))
            pid, marker = int(info["pid"]), str(info["marker"])
        except (OSError, ValueError, KeyError):
            return None
        if not pid_alive(pid):
            return None
        cmdline = _cmdline(pid)
        return pid if cmdline == "" or (cmdline is not None and marker in cmdline) else None

    def start(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, marker: str) -> int:
        """Start ``argv`` detached, logging to :attr:`log_file`; return its pid."""
        private_dir(self.run_dir)
        with open_private(self.log_file) as out:
            out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name}\n".encode())
            out.flush()
            proc = subprocess.Popen(  # noqa: S603 - argv is built by us, never from user text
                list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        write_private(self.pid_file, json.dumps({"pid": proc.pid, "marker": marker}))
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM our process group, SIGKILL after ``timeout``; True if something was stopped."""
        pid = self.read_pid()
        if pid is None:
            return False
        signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.2)
        if pid_alive(pid):
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            signal_group(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log yet)"


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal ``pid``'s process group (it was started as a session leader); gone is fine."""
    try:
        os.killpg(pid, sig)  # the service was started as its own session leader
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, proc: ManagedProcess) -> None:
    """Poll ``check`` until true; fail with the service's log tail if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure of a probe means "not ready yet"
            pass
        if proc.read_pid() is None:
            raise ServiceError(f"{proc.name} exited while starting; last log lines ({proc.log_file}):\n{proc.log_tail()}")
        time.sleep(0.5)
    raise ServiceError(f"{what} not healthy after {timeout:.0f}s; last log lines ({proc.log_file}):\n{proc.log_tail()}")
