"""Embedded mode: files dropped into the landing folder reach bronze (SQLite catalog), whole and once."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ingestion.specs import route
from lakehouse.settings import Settings
from tests.integration.listener.conftest import SAMPLE, Bronze, record_count, running_listener, sales_csv, wait_for

pytestmark = pytest.mark.integration


def sample_tree(tmp_path: Path) -> Path:
    """data/sample/raw, or a small stand-in tree while the sample does not exist."""
    if (SAMPLE / "raw").is_dir():
        return SAMPLE / "raw"
    tree = tmp_path / "stand-in" / "raw"
    for i in range(3):
        path = tree / "ecoride" / "sales" / f"sales_{i}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sales_csv(i * 10, 4))
    return tree


def expected_rows(tree: Path) -> dict[str, dict[str, int]]:
    """table -> key -> records, for every CSV/JSON file in ``tree`` (PDF rows are pages; not counted here)."""
    expected: dict[str, dict[str, int]] = {}
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and ".pdf" not in p.name.lower()):
        key = "raw/" + path.relative_to(tree).as_posix()
        spec = route(key)
        assert spec is not None, f"sample file {key} has no dataset spec"
        expected.setdefault(spec.table, {})[key] = record_count(path.name, path.read_bytes())
    return expected


def test_copying_the_sample_tree_into_the_landing_folder_loads_every_file(embedded_settings: Settings, tmp_path: Path) -> None:
    tree = sample_tree(tmp_path)
    files = [p for p in tree.rglob("*") if p.is_file()]
    with running_listener(embedded_settings) as listener:
        started = time.monotonic()
        shutil.copytree(tree, embedded_settings.landing_dir / "raw", dirs_exist_ok=True)
        wait_for("every sample file", lambda: listener.totals.files.get("loaded", 0) == len(files), timeout=180, interval=0.5)
        elapsed = time.monotonic() - started
        assert listener.totals.files.keys() == {"loaded"}, listener.totals.files
    bronze = Bronze(embedded_settings)
    for table, keys in expected_rows(tree).items():
        assert dict(bronze.rows_per_key(table)) == keys, table
    print(f"\nLOCAL WATCH: {len(files)} sample files in bronze {elapsed:.1f}s after the copy started, {listener.totals.batches} batches")


def test_a_file_written_slowly_in_chunks_is_loaded_once_and_whole(embedded_settings: Settings) -> None:
    content = sales_csv(1, 60)
    key = "raw/ecoride/sales/slow.csv"
    path = embedded_settings.landing_dir / key
    with running_listener(embedded_settings, settle_s=0.3, open_grace_s=5.0) as listener:
        path.parent.mkdir(parents=True, exist_ok=True)
        chunk = len(content) // 6 + 1
        with path.open("wb") as handle:
            for start in range(0, len(content), chunk):
                handle.write(content[start:start + chunk])
                handle.flush()
                os.fsync(handle.fileno())
                time.sleep(0.6)  # longer than settle_s: a size-stable rule alone would load a prefix
        bronze = Bronze(embedded_settings)
        wait_for("the slow file", lambda: bronze.rows_per_key("ecoride_sales")[key] == 60)
        time.sleep(1.5)
        assert listener.totals.files == {"loaded": 1}
    assert list(bronze.rows_per_version("ecoride_sales").values()) == [60]


def test_files_that_arrived_while_the_listener_was_down_are_loaded_at_start_up_and_only_once(embedded_settings: Settings) -> None:
    landing = embedded_settings.landing_dir / "raw" / "ecoride" / "sales"
    landing.mkdir(parents=True)
    for i in range(3):
        (landing / f"early_{i}.csv").write_bytes(sales_csv(i * 10, 2))
        os.utime(landing / f"early_{i}.csv", (time.time() - 60, time.time() - 60))
    bronze = Bronze(embedded_settings)
    with running_listener(embedded_settings) as listener:
        assert listener.caught_up.wait(60), "the start-up reconcile did not end"  # it runs beside the poll loop
        assert listener.totals.files == {"loaded": 3}
        assert listener.health()[1]["reconcile"]["passes"] == 1
    (landing / "while_down.csv").write_bytes(sales_csv(100, 5))
    os.utime(landing / "while_down.csv", (time.time() - 60, time.time() - 60))
    with running_listener(embedded_settings) as listener:
        assert listener.caught_up.wait(60), "the start-up reconcile did not end"
        assert listener.totals.files == {"loaded": 1}
    assert sorted(bronze.rows_per_key("ecoride_sales").values()) == [2, 2, 2, 5]


def test_a_bad_file_goes_to_quarantine_and_the_dead_letter_file_and_the_next_one_loads(embedded_settings: Settings) -> None:
    landing = embedded_settings.landing_dir
    with running_listener(embedded_settings) as listener:
        (landing / "raw" / "chargenet" / "stations").mkdir(parents=True)
        (landing / "raw" / "chargenet" / "stations" / "cut.json").write_bytes(b'[{"station_id": "ST-1", "name": ')
        (landing / "raw" / "ecoride" / "sales").mkdir(parents=True)
        (landing / "raw" / "ecoride" / "sales" / "ok.csv").write_bytes(sales_csv(1, 2))
        wait_for("both files", lambda: sum(listener.totals.files.values()) == 2)
        assert listener.totals.files == {"loaded": 1, "quarantined": 1}
    assert (landing / "quarantine" / "raw" / "chargenet" / "stations" / "cut.json").is_file()
    assert (landing / "quarantine" / "raw" / "chargenet" / "stations" / "cut.json.error.json").is_file()
    [letter] = [json.loads(line) for line in (embedded_settings.state_dir / "dead-letters.jsonl").read_text().splitlines()]
    assert letter["key"] == "raw/chargenet/stations/cut.json" and letter["origin"] == "local" and letter["reason"]
