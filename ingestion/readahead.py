"""Read the next small source objects while the current one is parsed and written.

A burst of small files from MinIO spends much of each file's time waiting on
its GET. The loader stages a table's files one by one (schema evolution and
the ledger are simpler that way); :class:`ReadAhead` overlaps the waits
instead: a few threads fetch the bytes of the files that come next, in order,
and the loader's :class:`SourceObject` for such a file opens those bytes.

Nothing about a file's outcome changes. The bytes come from the object's own
``open`` (pinned to its etag), and a failure to fetch them is raised, as is,
when the loader opens the file, so it is classified exactly as a failure of a
direct read. Only files up to ``max_size`` are fetched ahead, at most
``window`` at a time, so memory stays bounded (8 x 4 MiB by default); bigger
files stream as before.
"""

from __future__ import annotations

import dataclasses
import io
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from ingestion.parsers import GuardedStream, close_raw
from ingestion.source import SourceObject

WORKERS = 4
WINDOW = 8
MAX_SIZE = 4 << 20


def _fetch(obj: SourceObject) -> bytes:
    raw = obj.open()
    try:
        # Read through the parsers' guard: a connection lost mid-read is a RetryableError, as when parsing.
        return io.BufferedReader(GuardedStream(raw, obj.key), 1 << 20).read()
    finally:
        close_raw(raw)


class ReadAhead:
    """Fetches ``objects`` (those small enough) ahead of :meth:`source` asking for them, in order."""

    def __init__(self, objects: Iterable[SourceObject], *, workers: int = WORKERS, window: int = WINDOW,
                 max_size: int = MAX_SIZE) -> None:
        self._queue = deque(o for o in objects if 0 < o.size <= max_size)
        self._window = window
        self._fetched: dict[tuple[str, str], Future[bytes]] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="read-ahead") if self._queue else None
        self._fill()

    def _fill(self) -> None:
        while self._pool is not None and self._queue and len(self._fetched) < self._window:
            obj = self._queue.popleft()
            self._fetched[(obj.key, obj.etag)] = self._pool.submit(_fetch, obj)

    def source(self, obj: SourceObject) -> SourceObject:
        """``obj``, opening its fetched bytes if it was fetched ahead (each open is a fresh stream)."""
        fetched = self._fetched.pop((obj.key, obj.etag), None)
        self._fill()
        if fetched is None:
            return obj

        def opener() -> BinaryIO:
            return io.BytesIO(fetched.result())  # a fetch failure is raised here, where a direct read raises it

        return dataclasses.replace(obj, open=opener)

    def close(self) -> None:
        """Drop what was fetched and not asked for; returns without waiting for fetches in flight."""
        self._queue.clear()
        for fetched in self._fetched.values():
            fetched.cancel()
        self._fetched.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
