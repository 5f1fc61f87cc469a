"""``lakehouse drop`` puts files where the listener looks; the state folder is private."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from lakehouse.cli import main
from lakehouse.drop import DropError, drop_files, key_for
from lakehouse.settings import Settings
from lakehouse.state import private_dir, write_private

SAMPLE_SALES = Path(__file__).resolve().parents[2] / "data" / "sample" / "raw" / "ecoride" / "sales" / "sales_2023-01.csv"


@pytest.fixture
def embedded(tmp_path: Path) -> Settings:
    return dataclasses.replace(Settings(), mode="embedded", state_dir=tmp_path / "state")


def test_a_path_with_a_raw_folder_keeps_its_path_from_raw(embedded: Settings) -> None:
    assert key_for(SAMPLE_SALES, embedded) == "raw/ecoride/sales/sales_2023-01.csv"


def test_to_names_the_prefix_with_or_without_raw(embedded: Settings, tmp_path: Path) -> None:
    f = tmp_path / "june.csv"
    assert key_for(f, embedded, to="ecoride/sales/") == "raw/ecoride/sales/june.csv"
    assert key_for(f, embedded, to="raw/ecoride/sales") == "raw/ecoride/sales/june.csv"


def test_a_file_without_a_destination_is_refused_with_the_fix(embedded: Settings, tmp_path: Path) -> None:
    f = tmp_path / "june.csv"
    f.write_text("x\n")
    with pytest.raises(DropError, match="--to"):
        drop_files(embedded, [f])


def test_nothing_is_dropped_when_one_file_is_missing(embedded: Settings, tmp_path: Path) -> None:
    with pytest.raises(DropError, match="no such file"):
        drop_files(embedded, [SAMPLE_SALES, tmp_path / "absent.csv"])
    assert not (embedded.landing_dir / "raw").exists()


def test_drop_copies_into_the_landing_folder_whole(embedded: Settings) -> None:
    keys = drop_files(embedded, [SAMPLE_SALES])
    target = embedded.landing_dir / keys[0]
    assert target.read_bytes() == SAMPLE_SALES.read_bytes()
    assert not any(p.name.startswith(".") for p in target.parent.iterdir())  # no temporary left behind


def test_the_drop_command_fails_with_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(tmp_path))
    from lakehouse.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["drop", str(tmp_path / "nope.csv")]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]


def test_private_dir_and_write_private_are_owner_only(tmp_path: Path) -> None:
    d = private_dir(tmp_path / "state")
    d.chmod(0o755)
    private_dir(d)  # tightens an existing folder
    f = write_private(d / "secret.yaml", "key: value\n")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert f.read_text() == "key: value\n"
