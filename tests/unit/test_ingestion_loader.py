"""BronzeLoader failure paths on the embedded (SQLite) catalog: outages, races, logging."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
from pathlib import Path

import pytest

from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from ingestion import ledger, storage
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.pipeline import FileReader
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


# ---- issue 9: never stall, classify everything, remember quarantine, one empty-file rule, exact versions ----

def test_five_quarantined_files_that_changed_the_schema_do_not_stall_the_batch(
        settings: Settings, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Like a wrong-delimiter CSV or a JSON file cut off after its first batch: the
    # file adds a column to the batch's transaction, then turns out to be bad.
    bad = [landed(store, f"raw/ecoride/sales/bad_{i}.csv") for i in range(5)]
    good = landed(store)
    batches = FileReader.batches

    def widen_then_fail(self: FileReader, schema, add_columns):  # noqa: ANN001, ANN202
        if "bad_" in self.obj.key:
            add_columns([f"col_{self.obj.key[-5]}"])
            raise PermanentError(f"{self.obj.key} is cut off", reason=reasons.PARSE_ERROR)
        return batches(self, schema, add_columns)

    monkeypatch.setattr(FileReader, "batches", widen_then_fail)
    outcomes = BronzeLoader(settings, store=store).load([*bad, good])

    assert [o.outcome for o in outcomes] == ["quarantined"] * 5 + ["loaded"]
    table = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))
    assert not [c for c in table.schema().column_names if c.startswith("col_")]
    assert sales_rows(settings) == 2


def test_an_unexpected_error_in_one_file_quarantines_only_that_file_as_unexpected(
        settings: Settings, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    boom = landed(store, "raw/ecoride/sales/boom.csv")
    good = landed(store)
    batches = FileReader.batches

    def explode(self: FileReader, schema, add_columns):  # noqa: ANN001, ANN202
        if self.obj.key == boom.key:
            raise KeyError("a bug nobody classified")
        return batches(self, schema, add_columns)

    monkeypatch.setattr(FileReader, "batches", explode)
    outcomes = BronzeLoader(settings, store=store).load([boom, good])

    assert [o.outcome for o in outcomes] == ["quarantined", "loaded"]
    assert outcomes[0].error is not None and outcomes[0].error.reason == reasons.UNEXPECTED
    report = json.loads((settings.landing_dir / f"quarantine/{boom.key}.error.json").read_text())
    assert report["reason"] == "unexpected" and "KeyError" in report["exception"]


def test_a_zero_byte_file_is_quarantined_as_empty_file_and_then_no_longer_pending(
        settings: Settings, store: LocalObjectStore) -> None:
    empty = landed(store, "raw/ecoride/sales/empty.csv", b"")
    loader = BronzeLoader(settings, store=store)
    assert loader.pending([empty]) == [empty]

    outcomes = loader.load([empty])

    assert outcomes[0].outcome == "quarantined" and outcomes[0].error.reason == reasons.EMPTY_FILE
    assert loader.pending([empty]) == []


def test_a_quarantined_version_is_remembered_across_loads_and_restarts(settings: Settings, store: LocalObjectStore,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bad = landed(store, "raw/ecoride/sales/bad.csv", b"sale_id\n\xff\xfe\n")
    first = BronzeLoader(settings, store=store).load([bad])
    assert first[0].outcome == "quarantined"
    calls: list[str] = []
    monkeypatch.setattr("ingestion.loader.quarantine", lambda store, obj, *a: calls.append(obj.key))
    ledger.forget_indexes()  # a restart: nothing in memory

    again = BronzeLoader(settings, store=store).load([bad])

    assert again[0].outcome == "duplicate" and calls == []  # no second quarantine, so no second dead letter
    assert BronzeLoader(settings, store=store).pending([bad]) == []
    retried = BronzeLoader(settings, store=store).load([bad], retry_quarantined=True)
    assert retried[0].outcome == "quarantined" and calls == [bad.key]  # retry tries on purpose


def test_a_new_version_of_a_quarantined_key_is_loaded(settings: Settings, store: LocalObjectStore) -> None:
    bad = landed(store, KEY, b"sale_id\n\xff\xfe\n")
    BronzeLoader(settings, store=store).load([bad])
    fixed = landed(store, KEY, CSV)

    assert BronzeLoader(settings, store=store).pending([fixed]) == [fixed]
    assert [o.outcome for o in BronzeLoader(settings, store=store).load([fixed])] == ["loaded"]


def test_a_file_overwritten_between_stat_and_read_is_not_loaded_under_the_old_etag(
        settings: Settings, store: LocalObjectStore) -> None:
    old = landed(store)
    (settings.landing_dir / KEY).write_bytes(CSV + b"S3,2024-01-04,12.00\n")  # replaced before the loader reads it

    outcomes = BronzeLoader(settings, store=store).load([old])

    assert outcomes[0].outcome == "quarantined" and outcomes[0].error.reason == reasons.OBJECT_MISSING
    assert not (settings.landing_dir / f"quarantine/{KEY}").exists()  # the newer version is not copied as bad
    new = store.stat(KEY)
    assert [o.outcome for o in BronzeLoader(settings, store=store).load([new])] == ["loaded"]
    table = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))
    assert set(table.scan().to_arrow().column("_source_etag").to_pylist()) == {new.etag}
    assert sales_rows(settings) == 3


def test_listing_the_landing_folder_hashes_each_version_once(store: LocalObjectStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    landed(store)
    landed(store, "raw/ecoride/sales/other.csv")
    hashed: list[str] = []
    real = storage.file_sha256
    monkeypatch.setattr(storage, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    store._hashes.clear()

    for _ in range(3):
        assert len(list(store.list("raw/"))) == 2
    store.stat(KEY)

    assert sorted(hashed) == ["other.csv", "sales_2024-01.csv"]


def test_the_hash_cache_survives_a_restart(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.landing_dir.mkdir(parents=True)
    cache = settings.state_dir / "hashes.sqlite"
    first = LocalObjectStore(settings.landing_dir, hash_cache=cache)
    obj = landed(first)
    hashed: list[str] = []
    real = storage.file_sha256
    monkeypatch.setattr(storage, "file_sha256", lambda path: hashed.append(path.name) or real(path))

    again = LocalObjectStore(settings.landing_dir, hash_cache=cache)  # a restarted process
    assert [o.etag for o in again.list("raw/")] == [obj.etag] and hashed == []
    (settings.landing_dir / KEY).write_bytes(CSV + b"S3,2024-01-04,12.00\n")
    assert [o.etag for o in again.list("raw/")] != [obj.etag] and hashed == ["sales_2024-01.csv"]


def test_a_conflict_keeps_the_written_files_and_reparses_nothing(settings: Settings, store: LocalObjectStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ours = [landed(store, f"raw/ecoride/sales/ours_{i}.csv", CSV.replace(b"S1", f"O{i}".encode())) for i in range(3)]
    theirs = landed(store, "raw/ecoride/sales/theirs.csv", CSV.replace(b"S1", b"T1"))
    commit = GroupWrite.commit
    parsed: list[str] = []
    batches = FileReader.batches

    def counting(self: FileReader, schema, add_columns):  # noqa: ANN001, ANN202
        parsed.append(self.obj.key)
        return batches(self, schema, add_columns)

    def other_instance_commits_first(self: GroupWrite, files: int):  # noqa: ANN202
        if not parsed.count("raced"):
            parsed.append("raced")
            other = BronzeLoader(settings, store=store).load([ours[1], theirs])  # one of ours, one of its own
            assert [o.outcome for o in other] == ["loaded", "loaded"]
        return commit(self, files)

    monkeypatch.setattr(FileReader, "batches", counting)
    monkeypatch.setattr(GroupWrite, "commit", other_instance_commits_first)
    outcomes = BronzeLoader(settings, store=store).load(ours)

    assert [o.outcome for o in outcomes] == ["loaded", "duplicate", "loaded"]
    assert parsed == [o.key for o in ours] + ["raced", ours[1].key, theirs.key]  # ours parsed once each
    rows = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales")).scan().to_arrow()
    assert sorted(rows.column("_source_key").to_pylist()) == sorted([o.key for o in ours] * 2 + [theirs.key] * 2)
    data_dir = settings.embedded_warehouse_dir
    live = {t.file.file_path.removeprefix("file://") for t in
            open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales")).scan().plan_files()}
    written = {str(p) for p in data_dir.rglob("*.parquet")}
    assert written == live  # the duplicate's data file was deleted, nothing else left behind


class _RemoteStore(LocalObjectStore):
    """The landing folder, treated like a bucket: the loader reads its small files ahead."""

    remote = True

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[str] = []

    def _source(self, path: Path) -> SourceObject:
        obj = super()._source(path)
        opener = obj.open

        def counting():  # noqa: ANN202
            self.opened.append(obj.key)
            return opener()
        return dataclasses.replace(obj, open=counting)


def test_files_read_ahead_load_like_files_read_directly_each_read_once(settings: Settings) -> None:
    settings.landing_dir.mkdir(parents=True)
    store = _RemoteStore(settings.landing_dir)
    objs = [landed(store, f"raw/ecoride/sales/ahead_{i}.csv", CSV.replace(b"S1", f"A{i}".encode())) for i in range(12)]
    outcomes = BronzeLoader(settings, store=store).load(objs)
    assert [o.outcome for o in outcomes] == ["loaded"] * 12
    assert sorted(store.opened) == sorted(o.key for o in objs)  # fetched ahead once, parsed from those bytes
    rows = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales")).scan().to_arrow()
    assert sorted(rows.column("sale_id").to_pylist()) == sorted([f"A{i}" for i in range(12)] + ["S2"] * 12)


def test_an_outage_while_reading_ahead_is_retryable_and_commits_nothing(settings: Settings) -> None:
    settings.landing_dir.mkdir(parents=True)
    store = _RemoteStore(settings.landing_dir)
    good = landed(store)
    flaky = dataclasses.replace(landed(store, "raw/ecoride/sales/flaky.csv"), open=_DropsMidway)
    loader = BronzeLoader(settings, store=store)
    with pytest.raises(RetryableError, match="reading raw/ecoride/sales/flaky.csv failed"):
        loader.load([good, flaky])
    assert not (settings.landing_dir / "quarantine").exists()
    assert [o.outcome for o in loader.load([good])] == ["loaded"]
    assert sales_rows(settings) == 2


def test_a_background_write_that_fails_fails_the_batch_commits_nothing_and_leaves_no_file(
        settings: Settings, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion import writer

    objs = [landed(store, f"raw/ecoride/sales/bg_{i}.csv", CSV.replace(b"S1", f"B{i}".encode())) for i in range(8)]
    real, calls, lock = writer.write_data_files, [], threading.Lock()

    def third_fails(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - runs on the writer threads
        with lock:
            calls.append(1)
            third = len(calls) == 3
        if third:
            raise OSError("the store refused a data file")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "write_data_files", third_fails)
    with pytest.raises(RetryableError, match="refused a data file"):
        BronzeLoader(settings, store=store).load(objs)
    assert not (settings.landing_dir / "quarantine").exists()  # an outage, not the fault of any file
    assert list(settings.embedded_warehouse_dir.rglob("*.parquet")) == []  # the files written were deleted

    monkeypatch.setattr(writer, "write_data_files", real)
    assert [o.outcome for o in BronzeLoader(settings, store=store).load(objs)] == ["loaded"] * 8
    assert sales_rows(settings) == 16


def test_a_file_whose_background_write_failed_is_never_adopted_by_the_next_attempt(
        settings: Settings, store: LocalObjectStore) -> None:
    from ingestion.specs import route
    from ingestion.writer import StagedFile

    obj = landed(store)
    BronzeLoader(settings, store=store).load([obj])
    table = open_catalog(settings).load_table((settings.bronze_namespace, "ecoride_sales"))
    group = GroupWrite(table, route(KEY))
    failed = StagedFile(obj, rows=2, millis=1.0, files=[], schema=group.schema, write_failed=True)
    assert not group.adopt(failed)  # its rows are in no data file: the file must be parsed again
    assert group.adopt(dataclasses.replace(failed, write_failed=False))
