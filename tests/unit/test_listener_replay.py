"""Reconcile loads what the ledger lacks, in bounded batches; a dry run loads nothing."""

from __future__ import annotations

from ingestion.source import SourceObject
from listener.dispatcher import Dispatcher
from listener.metrics import ListenerMetrics
from listener.replay import reconcile, split_batches
from listener.testing import FakeLoader, MemoryDeadLetters, MemoryStore, stream


def setup(objects: dict[str, bytes]) -> tuple[MemoryStore, FakeLoader, Dispatcher]:
    store, loader = MemoryStore(objects), FakeLoader()
    dispatcher = Dispatcher(loader, store, MemoryDeadLetters(), ListenerMetrics(), bucket="lakehouse", origin="replay")
    return store, loader, dispatcher


def obj(key: str, size: int) -> SourceObject:
    return SourceObject(key=key, etag="e", size=size, open=stream(b""))


def test_split_batches_respects_count_and_bytes_but_never_splits_below_one_file() -> None:
    sizes = [5, 5, 5, 20, 1]
    batches = list(split_batches([obj(f"k{i}", s) for i, s in enumerate(sizes)], max_files=2, max_bytes=10))
    assert [[o.key for o in b] for b in batches] == [["k0", "k1"], ["k2"], ["k3"], ["k4"]]


def test_reconcile_loads_only_what_the_ledger_lacks_under_the_prefix() -> None:
    store, loader, dispatcher = setup({"raw/ecoride/sales/a.csv": b"1\n", "raw/ecoride/sales/b.csv": b"1\n", "raw/chargenet/stations/s.json": b"{}\n"})
    loader.ledger.add(("raw/ecoride/sales/a.csv", store.stat("raw/ecoride/sales/a.csv").etag))
    report = reconcile(store, loader, dispatcher, "raw/ecoride/")
    assert report.listed == 2 and report.pending == ["raw/ecoride/sales/b.csv"]
    assert loader.calls == [["raw/ecoride/sales/b.csv"]]
    assert report.summary()["loaded"] == 1


def test_a_dry_run_reports_pending_files_and_loads_nothing() -> None:
    store, loader, dispatcher = setup({"raw/ecoride/sales/a.csv": b"1\n"})
    report = reconcile(store, loader, dispatcher, "raw/", dry_run=True)
    assert report.pending == ["raw/ecoride/sales/a.csv"] and loader.calls == []


def test_running_reconcile_twice_loads_nothing_the_second_time() -> None:
    store, loader, dispatcher = setup({f"raw/ecoride/sales/{i}.csv": b"1\n" for i in range(5)})
    reconcile(store, loader, dispatcher, "raw/", max_files=2)
    assert [len(c) for c in loader.calls] == [2, 2, 1]
    again = reconcile(store, loader, dispatcher, "raw/")
    assert again.pending == [] and len(loader.calls) == 3


def test_held_files_are_left_to_the_watcher_and_a_stop_interrupts_between_batches() -> None:
    store, loader, dispatcher = setup({f"raw/ecoride/sales/{i}.csv": b"1\n" for i in range(4)})
    report = reconcile(store, loader, dispatcher, "raw/", max_files=2, hold=lambda key: key.endswith("1.csv"), stop=lambda: bool(loader.calls))
    assert report.held == ["raw/ecoride/sales/1.csv"]
    assert loader.calls == [["raw/ecoride/sales/0.csv"]]
    assert report.complete is False


def test_progress_sees_every_listed_file() -> None:
    store, loader, dispatcher = setup({f"raw/ecoride/sales/{i}.csv": b"1\n" for i in range(3)})
    updates: list[int] = []

    class Bar:
        def update(self, n: int) -> None:
            updates.append(n)

        def close(self) -> None:
            updates.append(-1)

    reconcile(store, loader, dispatcher, "raw/", max_files=2, progress=lambda total: Bar())
    assert updates == [2, 1, -1]


def test_quarantined_and_empty_files_are_not_pending_after_one_real_pass(tmp_path, base_settings) -> None:  # noqa: ANN001
    # Regression (issue 9 items 5, 6): every pass re-quarantined bad files, and a dry
    # run listed quarantined and 0-byte files as "would load" forever.
    import dataclasses

    from ingestion.loader import BronzeLoader
    from ingestion.storage import LocalObjectStore

    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    store = LocalObjectStore(settings.landing_dir)
    store.put_bytes("raw/ecoride/sales/empty.csv", b"")
    store.put_bytes("raw/ecoride/sales/bad.csv", b"sale_id\n\xff\xfe\n")
    store.put_bytes("raw/nowhere/x.txt", b"?")
    store.put_bytes("raw/ecoride/sales/good.csv", b"sale_id,sale_date\nS1,2024-01-02\n")
    letters = MemoryDeadLetters()
    dispatcher = Dispatcher(BronzeLoader(settings, store=store), store, letters, ListenerMetrics(), bucket="lakehouse",
                            origin="replay")

    first = reconcile(store, dispatcher.loader, dispatcher, "raw/")
    assert first.summary()["quarantined"] == 3 and first.summary()["loaded"] == 1
    sent = len(letters.letters)
    dry = reconcile(store, dispatcher.loader, dispatcher, "raw/", dry_run=True)
    again = reconcile(store, dispatcher.loader, dispatcher, "raw/")

    assert dry.pending == [] and again.pending == []
    assert len(letters.letters) == sent  # no second dead letter for the same versions
