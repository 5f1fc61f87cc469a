import sys
from pathlib import Path

import pytest

from lakehouse.services.process import ManagedProcess


def test_stop_only_touches_the_process_it_started(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path / "sleeper")
    pid = proc.start([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path)],
                     env={}, cwd=tmp_path, marker=str(tmp_path))
    assert proc.read_pid() == pid

    assert proc.stop(timeout=5) is True
    assert proc.read_pid() is None
    assert proc.stop() is False


def test_a_pid_file_pointing_at_someone_elses_process_is_not_ours(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", tmp_path / "ghost")
    proc.run_dir.mkdir(parents=True)
    # pid 1 is alive but its command line does not carry our marker.
    proc.pid_file.write_text('{"pid": 1, "marker": "/nowhere/lakehouse-test"}')
    assert proc.read_pid() is None
    assert proc.stop() is False


def test_a_kafka_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """An id starting with '-' is read as an option by kafka-storage format (a CI run failed on it)."""
    from lakehouse.services import kafka

    dashed = kafka.uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64url of 0b111110... starts with '-'
    draws = iter([dashed, kafka.uuid.UUID(int=1)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))
    cluster_id = kafka.new_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22
