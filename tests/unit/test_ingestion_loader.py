"""BronzeLoader failure paths on the embedded (SQLite) catalog: outages, races, logging."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from pathlib import Path

import pytest

from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.quarantine import quarantine
from ingestion.source import SourceObject
from ingestion.storage import LocalObjectStore
from ingestion.writer import GroupWrite

CSV = b"sale_id,sale_date,sale_price_usd\nS1,2024-01-02,10.00\nS2,2024-01-03,11.00\n"
KEY = "raw/ecoride/sales/sales_2024-01.csv"


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")


@pytest.fixture
def store(settings: Settings) -> LocalObjectStore:
    settings.landing_dir.mkdir(parents=True)
    return LocalObjectStore(settings.landing_dir)


def landed(store: LocalObjectStore, key: str = KEY, data: bytes = CSV) -> SourceObject:
    store.put_bytes(key, data)
    return store.stat(key)


def sales_rows(settings: Settings) -> int:
    table = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))
    return table.scan().to_arrow().num_rows


class _DropsMidway(io.RawIOBase):
    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        if self.sent:
            raise ConnectionResetError("connection reset by peer")
        self.sent = True
        buffer[:20] = CSV[:20]
        return 20


def test_a_storage_outage_mid_read_is_retryable_and_commits_nothing(settings: Settings, store: LocalObjectStore) -> None:
    good = landed(store)
    flaky = dataclasses.replace(good, open=_DropsMidway)
    loader = BronzeLoader(settings, store=store)
    with pytest.raises(RetryableError):
        loader.load([flaky])
    assert not (settings.landing_dir / "quarantine").exists()

    assert [o.outcome for o in loader.load([good])] == ["loaded"]  # the retry of the same batch
    assert sales_rows(settings) == 2


def test_an_unreachable_catalog_is_retryable(settings: Settings, store: LocalObjectStore) -> None:
    down = dataclasses.replace(settings, mode="native", nessie_uri_override="http://127.0.0.1:9")
    loader = BronzeLoader(down, store=store)  # building the loader does not need the catalog
    with pytest.raises(RetryableError):
        loader.load([landed(store)])
    with pytest.raises(RetryableError):
        loader.pending([landed(store)])


def test_a_commit_that_races_another_loader_rechecks_the_ledger(settings: Settings, store: LocalObjectStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    obj = landed(store)
    commit = GroupWrite.commit
    raced = []

    def other_loader_commits_first(self: GroupWrite, files: int):  # noqa: ANN202
        if not raced:
            raced.append(True)
            assert [o.outcome for o in BronzeLoader(settings, store=store).load([obj])] == ["loaded"]
        return commit(self, files)

    monkeypatch.setattr(GroupWrite, "commit", other_loader_commits_first)
    outcomes = BronzeLoader(settings, store=store).load([obj])

    assert [o.outcome for o in outcomes] == ["duplicate"]
    assert sales_rows(settings) == 2


def test_one_structured_debug_line_per_file(settings: Settings, store: LocalObjectStore,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingestion.loader")
    BronzeLoader(settings, store=store).load([landed(store), landed(store, "raw/nowhere/x.csv")])
    lines = [r for r in caplog.records if r.name == "ingestion.loader" and r.getMessage().startswith("bronze ")]
    assert [(r.key, r.outcome, r.rows) for r in lines] == [("raw/nowhere/x.csv", "quarantined", 0), (KEY, "loaded", 2)]
    assert all(hasattr(r, "ms") and hasattr(r, "table") for r in lines)


def test_quarantine_copies_the_object_and_explains_why(settings: Settings, store: LocalObjectStore) -> None:
    obj = landed(store, "raw/ecoride/sales/bad.csv", b"\xff\xfe")
    try:
        raise PermanentError("raw/ecoride/sales/bad.csv is not valid csv", reason="parse_error") from UnicodeDecodeError(
            "utf-8", b"\xff", 0, 1, "invalid start byte")
    except PermanentError as error:
        target = quarantine(store, obj, error, "ecoride_sales", settings)

    assert target == "quarantine/raw/ecoride/sales/bad.csv"
    assert (settings.landing_dir / target).read_bytes() == b"\xff\xfe"
    report = json.loads((settings.landing_dir / f"{target}.error.json").read_text())
    assert {k: report[k] for k in ("key", "etag", "reason", "spec", "copied")} == {
        "key": obj.key, "etag": obj.etag, "reason": "parse_error", "spec": "ecoride_sales", "copied": True}
    assert report["exception"].startswith("UnicodeDecodeError") and report["quarantined_at"]


def test_quarantine_of_a_vanished_object_still_writes_the_report(settings: Settings, store: LocalObjectStore) -> None:
    obj = landed(store)
    (settings.landing_dir / KEY).unlink()
    target = quarantine(store, obj, PermanentError("gone", reason="parse_error"), None, settings)
    report = json.loads((settings.landing_dir / f"{target}.error.json").read_text())
    assert report["copied"] is False
