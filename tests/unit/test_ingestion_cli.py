"""``lakehouse quarantine list|retry`` and ``lakehouse maintain`` on the embedded (SQLite) catalog."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lakehouse import cli
from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.storage import LocalObjectStore

BAD = "raw/ecoride/sales/bad.csv"
GOOD = b"sale_id,sale_date\nS1,2024-01-02\n"


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    return settings


def run(settings: Settings, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    args = cli.build_parser().parse_args(list(argv))
    code = args.func(args, settings)
    return code, capsys.readouterr().out


def test_quarantine_list_shows_what_replay_skips_and_drops_a_version_replaced_since(
        settings: Settings, capsys: pytest.CaptureFixture) -> None:
    store = LocalObjectStore(settings.landing_dir)
    store.put_bytes(BAD, b"")
    store.put_bytes("raw/nowhere/x.txt", b"?")
    BronzeLoader(settings, store=store).load([store.stat(BAD), store.stat("raw/nowhere/x.txt")])

    code, out = run(settings, capsys, "quarantine", "list", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [(e["key"], e["reason"]) for e in listed] == [(BAD, "empty_file"), ("raw/nowhere/x.txt", "unroutable_key")]

    store.put_bytes(BAD, GOOD)  # the producer fixes the file in place: a new version, pending again
    assert BronzeLoader(settings, store=store).pending([store.stat(BAD)]) == [store.stat(BAD)]
    code, out = run(settings, capsys, "quarantine", "list", "--json")
    assert [e["key"] for e in json.loads(out)] == ["raw/nowhere/x.txt"]
    code, out = run(settings, capsys, "quarantine", "list", "--all", "--json")
    assert [(e["key"], e["current"]) for e in json.loads(out)] == [(BAD, False), ("raw/nowhere/x.txt", True)]


def test_quarantine_retry_tries_the_same_version_again_on_purpose(settings: Settings,
                                                                  capsys: pytest.CaptureFixture) -> None:
    store = LocalObjectStore(settings.landing_dir)
    store.put_bytes(BAD, b"")
    BronzeLoader(settings, store=store).load([store.stat(BAD)])
    code, out = run(settings, capsys, "quarantine", "retry")
    assert code == 2 and "quarantined (empty_file)" in out
    code, out = run(settings, capsys, "quarantine", "retry", BAD, "--json")
    assert json.loads(out) == [{"key": BAD, "outcome": "quarantined", "rows": 0, "reason": "empty_file"}]
    with pytest.raises(LakehouseError, match="not quarantined: raw/not/quarantined.csv"):
        run(settings, capsys, "quarantine", "retry", "raw/not/quarantined.csv")


def test_maintain_compacts_and_reports(settings: Settings, capsys: pytest.CaptureFixture) -> None:
    store = LocalObjectStore(settings.landing_dir)
    for i in range(6):
        store.put_bytes(f"raw/ecoride/sales/s{i}.csv", GOOD.replace(b"S1", f"S{i}".encode()))
        BronzeLoader(settings, store=store).load([store.stat(f"raw/ecoride/sales/s{i}.csv")])

    code, out = run(settings, capsys, "maintain", "--table", "ecoride_sales", "--json")

    [report] = json.loads(out)
    assert code == 0 and (report["data_files_before"], report["data_files_after"]) == (6, 1)
    table = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))
    assert table.scan().to_arrow().num_rows == 6
