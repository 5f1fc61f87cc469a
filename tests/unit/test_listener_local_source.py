"""The local source delivers a landed file once, and only when it is completely written."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from listener.config import ListenerConfig
from listener.sources.local import LocalSource, is_temporary


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LocalSource]:
    config = ListenerConfig(settings=Settings(state_dir=tmp_path), source="local", settle_s=0.2, open_grace_s=1.5)
    src = LocalSource(config)
    src.start()
    try:
        yield src
    finally:
        src.close()


def collect(source: LocalSource, seconds: float) -> list[tuple[str, int]]:
    """(key, size) of every delivery within ``seconds``."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for delivery in source.poll(0.1):
            got += [(e.key, e.size) for e in delivery.events]
    return got


def test_a_written_and_closed_file_is_delivered_once_soon_after_the_close(source: LocalSource) -> None:
    path = source.watch_dir / "s.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert collect(source, 0.8) == [("raw/s.csv", 8)]


def test_a_file_written_slowly_through_one_handle_is_delivered_once_whole(source: LocalSource) -> None:
    path = source.watch_dir / "slow.csv"
    got = []
    with path.open("wb") as handle:
        for i in range(5):
            handle.write(b"x" * 100)
            handle.flush()
            os.fsync(handle.fileno())
            got += collect(source, 0.4)  # longer than settle_s: size-stable alone would fire
    got += collect(source, 1.0)
    assert got == [("raw/slow.csv", 500)]


def test_temporary_names_are_ignored_until_renamed(source: LocalSource) -> None:
    tmp = source.watch_dir / "s.csv.part"
    tmp.write_bytes(b"1\n")
    assert collect(source, 0.6) == []
    tmp.rename(source.watch_dir / "s.csv")
    assert collect(source, 1.0) == [("raw/s.csv", 2)]


def test_a_copied_tree_is_delivered_file_by_file(source: LocalSource, tmp_path: Path) -> None:
    tree = tmp_path / "sample" / "ecoride"
    for name in ("sales/a.csv", "sales/b.csv", "vehicles/v.csv"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"1\n")
    shutil.copytree(tree, source.watch_dir / "ecoride")
    got = collect(source, 2.5)
    assert sorted(k for k, _ in got) == ["raw/ecoride/sales/a.csv", "raw/ecoride/sales/b.csv", "raw/ecoride/vehicles/v.csv"]


def test_a_file_in_a_folder_made_just_before_is_delivered_after_the_grace_period(source: LocalSource) -> None:
    path = source.watch_dir / "a" / "b" / "c.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"1\n")  # may predate the watch on a/b: then no write or close event is ever seen
    assert collect(source, 2.5) == [("raw/a/b/c.csv", 2)]


def test_a_file_written_slowly_in_a_new_folder_is_delivered_once_whole(source: LocalSource) -> None:
    path = source.watch_dir / "new" / "slow.csv"
    path.parent.mkdir(parents=True)
    got = []
    with path.open("wb") as handle:
        for _ in range(4):
            handle.write(b"x" * 10)
            handle.flush()
            got += collect(source, 0.5)
    got += collect(source, 2.5)
    assert got == [("raw/new/slow.csv", 40)]


def test_an_empty_new_file_waits_for_its_content(source: LocalSource) -> None:
    path = source.watch_dir / "late.csv"
    with path.open("wb") as handle:
        assert collect(source, 0.6) == []
        handle.write(b"1\n2\n")
    assert collect(source, 1.0) == [("raw/late.csv", 4)]


def test_a_deleted_file_is_not_delivered(source: LocalSource) -> None:
    path = source.watch_dir / "gone.csv"
    path.write_bytes(b"1\n")
    path.unlink()
    assert collect(source, 0.6) == []


def test_hold_keeps_recent_files_for_the_watcher_and_releases_old_ones(source: LocalSource) -> None:
    old = source.watch_dir / "old.csv"
    old.write_bytes(b"1\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    collect(source, 2.0)  # the watcher delivers it (utime looks like a write: it waits open_grace_s)
    assert source.hold("raw/old.csv") is False
    (source.watch_dir / "new.csv").write_bytes(b"1\n")
    assert source.hold("raw/new.csv") is True


@pytest.mark.parametrize(("name", "temporary"), [(".hidden.csv", True), ("a.csv.tmp", True), ("a.csv~", True), ("a.csv", False)])
def test_is_temporary(name: str, temporary: bool) -> None:
    assert is_temporary(Path(name)) is temporary


def test_an_empty_file_of_unknown_writer_is_delivered_once_it_stayed_empty_long_enough(
    source: LocalSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: a 0-byte file found in a moved-in folder was never delivered,
    # so it was neither loaded nor quarantined (issue 9, item 6).
    monkeypatch.setattr("listener.sources.local.STALE_WRITE_S", 2.0)
    outside = tmp_path / "outside" / "batch"
    outside.mkdir(parents=True)
    (outside / "empty.csv").write_bytes(b"")
    shutil.move(str(outside), str(source.watch_dir / "batch"))
    assert collect(source, 1.5) == []
    assert collect(source, 2.0) == [("raw/batch/empty.csv", 0)]


def test_the_watched_folder_is_created_private(tmp_path: Path) -> None:
    src = LocalSource(ListenerConfig(settings=Settings(state_dir=tmp_path / "state"), source="local"))
    src.start()
    src.close()
    assert [oct(p.stat().st_mode & 0o777) for p in (tmp_path / "state", src.root, src.watch_dir)] == ["0o700"] * 3
