"""Embedded mode's event source: watchdog on a landing folder laid out like the bucket.

A file is delivered once it is completely written. Each file has a writer state:

* ``closed`` (a close-after-write or a rename into the tree was seen): ready when
  unchanged (size, mtime) for ``settle_s``;
* ``writing`` (a write event that changed the size; no close since): waits
  for the close; only after
  ``STALE_WRITE_S`` unchanged is it taken as complete (a close event was lost);
* ``unknown`` (created, or found in a folder that appeared before its watch
  existed, as with ``cp -r`` or ``mkdir -p && write``): ready when non-empty and
  unchanged for ``open_grace_s`` (an empty one: after ``STALE_WRITE_S``, and the
  loader quarantines it as ``empty_file``), unless a write or close event settles it first.

Without close events (platforms other than Linux inotify) every file is
``unknown``. Files that arrive while the listener is down are
found by the start-up reconcile, which asks :meth:`LocalSource.hold` about each
so that a file still being written is left to the watcher.

Hazard: a writer that reopens a file to append gets each closed prefix loaded
as a new version (so does one that pauses longer than ``open_grace_s`` before
its first write event is seen). Write to a temporary name (``.tmp``, ``.part``
or a dotfile: ignored) and rename, or keep the file open while writing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from lakehouse.state import private_dir
from listener.config import ListenerConfig
from listener.events import local_event
from listener.sources import Delivery

log = logging.getLogger(__name__)

TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")


def is_temporary(path: Path) -> bool:
    """Names writers use while a file is incomplete; the rename to the final name is what counts."""
    return path.name.startswith(".") or path.name.endswith(TEMPORARY_SUFFIXES)


STALE_WRITE_S = 60.0
CLOSED, WRITING, UNKNOWN = "closed", "writing", "unknown"


@dataclass
class _Candidate:
    state: str  # CLOSED | WRITING | UNKNOWN: what the events say about the writer
    changed: float  # monotonic time of the last event or observed change
    signature: tuple[int, int] | None = None  # (size, mtime_ns) at the last look
    size: int = -1  # size at the last event


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


class _Handler(FileSystemEventHandler):
    def __init__(self, source: LocalSource) -> None:
        self.source = source

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        src = Path(os.fsdecode(event.src_path))
        if event.is_directory:
            if kind in ("created", "moved"):
                self.source.scan(Path(os.fsdecode(event.dest_path)) if kind == "moved" else src)
            return
        if kind == "created":
            self.source.mark(src, UNKNOWN)
        elif kind == "modified":
            self.source.written(src)
        elif kind == "closed":
            self.source.mark(src, CLOSED)
        elif kind == "moved":
            self.source.forget(src)
            self.source.mark(Path(os.fsdecode(event.dest_path)), CLOSED)
        elif kind == "deleted":
            self.source.forget(src)
        # opened / closed_no_write: readers, including our own loader; not a change.


class LocalSource:
    """Watches ``<landing_dir>/raw/`` and delivers one event per completely written file."""

    name = "local"

    def __init__(self, config: ListenerConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.root = self.settings.landing_dir
        self.watch_dir = self.root / self.settings.raw_prefix.rstrip("/")
        self._candidates: dict[Path, _Candidate] = {}
        self._changed = threading.Condition()
        self._observer: Any = None
        self.close_events = False

    def start(self) -> None:
        private_dir(self.watch_dir)
        observer = Observer()
        observer.schedule(_Handler(self), str(self.watch_dir), recursive=True)
        observer.start()
        self._observer = observer
        # Only inotify reports closes; elsewhere "unchanged for settle_s" must do.
        self.close_events = type(observer).__name__ == "InotifyObserver"
        log.info("watching %s (%s)", self.watch_dir, "close events" if self.close_events else "size-stable polling")

    # ---- called from the watchdog thread --------------------------------------
    def mark(self, path: Path, state: str) -> None:
        if is_temporary(path) or not self._inside(path):
            return
        with self._changed:
            candidate = self._candidates.get(path)
            if candidate is None:
                candidate = self._candidates[path] = _Candidate(state=state, changed=time.monotonic())
            else:
                if not (state == UNKNOWN and candidate.state == WRITING):  # a late "created" says nothing new
                    candidate.state = state
                candidate.changed = time.monotonic()
            candidate.size = _size(path)
            self._changed.notify_all()

    def written(self, path: Path) -> None:
        """A "modified" event: a write, or only a metadata change (utime, chmod; ``cp -a``
        and ``shutil.copytree`` set times after the copy).

        Watchdog reports both alike, so the size decides: unchanged since the
        last event means metadata only (the state stays); changed means a write.
        A file we were not tracking becomes ``unknown``: a real write is followed
        by a close that settles it.
        """
        if is_temporary(path) or not self._inside(path):
            return
        with self._changed:
            size = _size(path)
            candidate = self._candidates.get(path)
            if candidate is None:
                self._candidates[path] = _Candidate(state=UNKNOWN, changed=time.monotonic(), size=size)
            else:
                if size != candidate.size:
                    candidate.state = WRITING
                candidate.size = size
                candidate.changed = time.monotonic()
            self._changed.notify_all()

    def forget(self, path: Path) -> None:
        with self._changed:
            self._candidates.pop(path, None)

    def scan(self, folder: Path) -> None:
        """A folder appeared (mkdir -p, cp -r, mv): its files may predate our watch on it."""
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.mark(path, UNKNOWN)

    # ---- called from the listener loop ----------------------------------------
    def poll(self, timeout_s: float) -> list[Delivery]:
        with self._changed:
            if not self._candidates:
                self._changed.wait(timeout_s)
            paths = list(self._candidates)
        if not self._candidates:
            return []
        ready = [p for p in paths if self._is_ready(p)]
        if not ready:
            time.sleep(min(timeout_s, self.config.settle_s / 2))
        return [self._deliver(p) for p in ready]

    def _is_ready(self, path: Path) -> bool:
        now = time.monotonic()
        try:
            st = path.stat()
        except FileNotFoundError:
            self.forget(path)
            return False
        with self._changed:
            candidate = self._candidates.get(path)
            if candidate is None:
                return False
            signature = (st.st_size, st.st_mtime_ns)
            if signature != candidate.signature:
                candidate.signature = signature
                candidate.changed = now
            if not self._settled(candidate, st.st_size, now - candidate.changed):
                return False
            del self._candidates[path]
            return True

    def _settled(self, candidate: _Candidate, size: int, quiet: float) -> bool:
        state = candidate.state if self.close_events else UNKNOWN
        if state == CLOSED:
            return quiet >= self.config.settle_s
        if state == WRITING:
            if quiet >= STALE_WRITE_S:
                log.warning("a file written %.0fs ago was never seen closed; loading it as it is", quiet)
                return True
            return False
        if size == 0:
            # An empty file of unknown writer may be about to be written: only once it
            # stayed empty as long as a lost close would take is it a (bad) file.
            return quiet >= STALE_WRITE_S
        return quiet >= max(self.config.settle_s, self.config.open_grace_s)

    def _deliver(self, path: Path) -> Delivery:
        key = path.relative_to(self.root).as_posix()
        size = path.stat().st_size if path.exists() else 0
        return Delivery(events=(local_event(self.settings.bucket, key, size),), token=key)

    def valid(self, token: Any) -> bool:
        return True

    def commit(self, tokens: Sequence[Any]) -> None:
        """Nothing to acknowledge: a file not loaded before a crash is found by the start-up reconcile."""

    def hold(self, key: str) -> bool:
        path = self.root / key
        with self._changed:
            if path in self._candidates:
                return True
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return True  # gone: nothing to load
        if age < max(self.config.settle_s, self.config.open_grace_s):
            self.mark(path, UNKNOWN)  # recent: may still be written; let the watcher decide
            return True
        return False

    def lag(self) -> dict[str, int]:
        with self._changed:
            return {"landing": len(self._candidates)}

    def status(self) -> dict[str, Any]:
        return {"source": self.name, "watching": str(self.watch_dir), "close_events": self.close_events, **self.lag()}

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _inside(self, path: Path) -> bool:
        try:
            path.relative_to(self.watch_dir)
        except ValueError:
            return False
        return True
