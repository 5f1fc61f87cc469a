"""The state folder and what it holds are readable by their owner only (issue 9, item 12)."""

from __future__ import annotations

import sys
from pathlib import Path

from lakehouse.settings import Settings
from lakehouse.state import open_private, private_dir, write_private


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_private_dir_makes_every_missing_level_owner_only_and_tightens_an_existing_one(tmp_path: Path) -> None:
    existing = tmp_path / "old-state"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    private_dir(existing)
    private_dir(tmp_path / "state" / "services" / "kafka")
    assert [mode(p) for p in (existing, tmp_path / "state", tmp_path / "state" / "services", tmp_path / "state" / "services" / "kafka")] == ["0o700"] * 4


def test_private_files_are_0600_whether_written_whole_or_appended(tmp_path: Path) -> None:
    write_private(tmp_path / "s" / "app.properties", "secret=1\n")
    with open_private(tmp_path / "s" / "x.log") as log:
        log.write(b"line\n")
    assert mode(tmp_path / "s" / "app.properties") == mode(tmp_path / "s" / "x.log") == "0o600"


def test_a_service_process_gets_a_private_run_folder_log_and_pid_file(tmp_path: Path) -> None:
    from lakehouse.services.process import ManagedProcess

    proc = ManagedProcess("sleeper", tmp_path / "state" / "services" / "sleeper")
    proc.start([sys.executable, "-c", "import time; time.sleep(30)"], env={}, cwd=tmp_path, marker=str(proc.run_dir))
    try:
        assert [mode(p) for p in (tmp_path / "state", proc.run_dir)] == ["0o700"] * 2
        assert mode(proc.log_file) == mode(proc.pid_file) == "0o600"
    finally:
        proc.stop(timeout=5)


def test_the_service_manager_tightens_the_state_folder(tmp_path: Path) -> None:
    from lakehouse.services.manager import ServiceManager

    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    with ServiceManager(Settings(state_dir=state))._lock():  # noqa: SLF001 - the first thing `up` and `down` do
        pass
    assert mode(state) == mode(state / "services") == "0o700"


def test_the_embedded_catalog_and_landing_folders_are_private(tmp_path: Path) -> None:
    from ingestion.catalog import catalog_properties
    from ingestion.storage import open_store

    settings = Settings(mode="embedded", state_dir=tmp_path / "state")
    catalog_properties(settings)
    open_store(settings)
    assert [mode(p) for p in (settings.state_dir, settings.embedded_warehouse_dir, settings.landing_dir)] == ["0o700"] * 3
