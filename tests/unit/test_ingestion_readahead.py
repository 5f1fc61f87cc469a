"""ReadAhead: the next small files are fetched while one is parsed; nothing about their outcome changes.

The real test is the native-stack suite (the listener's loads go through it on MinIO);
here the order, the bounds and the failure path, over in-memory objects.
"""

from __future__ import annotations

import io
import threading
import time

import pytest

from ingestion.readahead import ReadAhead
from ingestion.source import SourceObject
from lakehouse.errors import RetryableError


class Opens:
    """Objects whose ``open`` counts calls, can block until released, or fail."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def obj(self, key: str, data: bytes, error: Exception | None = None, size: int | None = None) -> SourceObject:
        def opener() -> io.BytesIO:
            with self._lock:
                self.calls.append(key)
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                assert self.release.wait(10)
                if error is not None:
                    raise error
                return io.BytesIO(data)
            finally:
                with self._lock:
                    self.running -= 1
        return SourceObject(key=key, etag=key.upper(), size=len(data) if size is None else size, open=opener)


def test_fetched_files_open_their_own_bytes_as_fresh_streams_and_are_read_once() -> None:
    opens = Opens()
    objs = [opens.obj(f"raw/f{i}", f"content {i}".encode()) for i in range(5)]
    with ReadAhead(objs, workers=2, window=3) as ahead:
        for i, obj in enumerate(objs):
            source = ahead.source(obj)
            assert source.open().read() == source.open().read() == f"content {i}".encode()
            assert (source.key, source.etag, source.size) == (obj.key, obj.etag, obj.size)
    assert sorted(opens.calls) == [o.key for o in objs]  # each fetched once, no direct read


def test_a_failed_fetch_is_raised_when_the_file_is_opened() -> None:
    opens = Opens()
    broken = opens.obj("raw/broken", b"x", error=RetryableError("storage down"))
    with ReadAhead([broken]) as ahead:
        source = ahead.source(broken)
        with pytest.raises(RetryableError, match="storage down"):
            source.open()


def test_big_and_empty_files_and_files_not_listed_are_read_directly() -> None:
    opens = Opens()
    big, empty, other = opens.obj("raw/big", b"b" * 100), opens.obj("raw/empty", b""), opens.obj("raw/other", b"o")
    with ReadAhead([big, empty], max_size=10) as ahead:
        assert opens.calls == []
        assert ahead.source(big) is big and ahead.source(empty) is empty and ahead.source(other) is other


def test_at_most_window_files_are_held_and_fetches_never_exceed_the_workers() -> None:
    opens = Opens()
    opens.release.clear()
    objs = [opens.obj(f"raw/f{i}", b"x") for i in range(10)]
    with ReadAhead(objs, workers=2, window=4) as ahead:
        deadline = time.monotonic() + 5
        while opens.most_running < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        assert opens.most_running == 2  # two workers, blocked, and no third
        opens.release.set()
        deadline = time.monotonic() + 5
        while len(opens.calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(opens.calls) == 4  # the window, until the loader asks for one
        ahead.source(objs[0]).open()
        deadline = time.monotonic() + 5
        while len(opens.calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(opens.calls) == 5


def test_close_does_not_wait_for_a_fetch_in_flight() -> None:
    opens = Opens()
    opens.release.clear()
    ahead = ReadAhead([opens.obj("raw/slow", b"x")], workers=1)
    started = time.monotonic()
    ahead.close()
    assert time.monotonic() - started < 1
    opens.release.set()
