"""A large batch against a stream of small batches from a second loader on the same table (issue 10 item 3).

Both run on the real catalog (SQLite, and Nessie with ``-m integration``).
The large batch must commit: a conflict costs a ledger refresh of only the
other writer's new manifests and a commit, never a parse; after
``COMMIT_ATTEMPTS`` conflicts in one call the written files are kept for the
retry of the batch (the listener retries a ``RetryableError``).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from ingestion import ledger, loader as loader_module
from ingestion.loader import COMMIT_ATTEMPTS, SHARE_FACTOR
from ingestion.pipeline import FileReader
from ingestion.writer import GroupWrite
from lakehouse.errors import RetryableError
from tests.integration.ingestion.conftest import Backend, sales_csv

LARGE = 200


def _land(backend: Backend, prefix: str, n: int) -> list:
    return [backend.put(f"raw/ecoride/sales/{prefix}/s_{i:04d}.csv", sales_csv(f"{prefix}{i},C1,V1,FM-ION,2024-01-02,"
                                                                              "10.00,0.00,cash,D,TX"))
            for i in range(n)]


def _counting_parses(monkeypatch: pytest.MonkeyPatch) -> Counter:
    parsed: Counter = Counter()
    batches = FileReader.batches

    def counting(self: FileReader, schema, add_columns):  # noqa: ANN001, ANN202
        parsed[self.obj.key] += 1
        return batches(self, schema, add_columns)

    monkeypatch.setattr(FileReader, "batches", counting)
    return parsed


def _rows_per_key(backend: Backend) -> Counter:
    return Counter(backend.rows("ecoride_sales").column("_source_key").to_pylist())


def test_a_large_batch_that_loses_every_race_for_two_calls_keeps_its_files_and_commits_on_the_retry(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    large = _land(backend, "large", LARGE)
    small = _land(backend, "small", COMMIT_ATTEMPTS + 2)
    parsed = _counting_parses(monkeypatch)
    monkeypatch.setattr(loader_module, "CONFLICT_PAUSE_S", 0.0)
    other = backend.loader()  # a second instance: its own catalog use, its own commits
    commit = GroupWrite.commit
    refreshes: list[tuple[int, int, int]] = []
    sizes: list[int] = []  # files in each commit the large batch's loader tried
    turn = iter(small)
    racing = False

    def a_small_batch_commits_first(self: GroupWrite, files: int):  # noqa: ANN202
        nonlocal racing
        if not racing:  # the large batch's loader is about to commit: the other instance wins the race
            sizes.append(files)
            stats = ledger.index_for(self.table).last  # the refresh this attempt's check made
            refreshes.append((stats.manifests_read, stats.manifests_dropped, stats.data_files_read))
            obj = next(turn, None)
            if obj is not None:
                racing = True
                try:
                    assert [o.outcome for o in other.load([obj])] == ["loaded"]
                finally:
                    racing = False
        return commit(self, files)

    monkeypatch.setattr(GroupWrite, "commit", a_small_batch_commits_first)
    first = backend.loader()
    with pytest.raises(RetryableError, match="conflicted"):
        first.load(large)  # COMMIT_ATTEMPTS conflicts in a row: bounded, gives up for now
    assert len(first._kept) == LARGE  # its written files are kept (none deleted) ...
    # Each conflict divided what the next attempt committed (the rest stayed written).
    assert sizes == [max(1, LARGE // SHARE_FACTOR ** i) for i in range(COMMIT_ATTEMPTS)]
    del sizes[:]
    outcomes = first.load(large)  # ... and the retry (the listener's) re-uses them: two more conflicts, then it commits

    assert {o.outcome for o in outcomes} == {"loaded"}
    assert all(parsed[o.key] == 1 for o in large), "a large-batch file was parsed twice"
    assert _rows_per_key(backend) == Counter({o.key: 1 for o in large + small})
    # Lost twice (200, then 50 files), then in growing parts: 12 went through, then 48, then the last 140.
    third = LARGE // SHARE_FACTOR ** 2
    assert sizes == [LARGE, LARGE // SHARE_FACTOR, third, third * SHARE_FACTOR, LARGE - third - third * SHARE_FACTOR]
    assert len(refreshes) == COMMIT_ATTEMPTS + 5
    for manifests_read, _, data_files_read in refreshes[1:]:  # each re-check read only the newest commit
        assert manifests_read <= 2 and data_files_read == 0, refreshes


def test_a_large_batch_commits_while_a_second_loader_streams_small_batches_into_the_same_table(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    large = _land(backend, "large", LARGE)
    small = _land(backend, "small", 300)
    parsed = _counting_parses(monkeypatch)
    done = threading.Event()
    streamed: list[int] = []
    errors: list[BaseException] = []

    def stream() -> None:  # a second listener instance: one-file batches, back to back
        other = backend.loader()
        try:
            for obj in small:
                if done.is_set():
                    break
                while True:
                    try:
                        other.load([obj])
                        break
                    except RetryableError:
                        continue  # it lost to the large batch: retried, as the listener does
                streamed.append(1)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    attempts = []
    commit = GroupWrite.commit

    def counting_commits(self: GroupWrite, files: int):  # noqa: ANN202
        if files == LARGE:
            attempts.append(len(streamed))
        return commit(self, files)

    monkeypatch.setattr(GroupWrite, "commit", counting_commits)
    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    while not streamed and thread.is_alive():  # the stream is running before the large batch starts
        threading.Event().wait(0.01)
    first = backend.loader()
    calls = 0
    try:
        while True:
            calls += 1
            try:
                outcomes = first.load(large)
                break
            except RetryableError:
                assert calls < 4, "the large batch starved"
    finally:
        done.set()
        thread.join(120)
    assert not errors, errors
    assert {o.outcome for o in outcomes} == {"loaded"}
    assert all(parsed[o.key] == 1 for o in large)
    rows = _rows_per_key(backend)
    assert all(rows[o.key] == 1 for o in large) and sum(rows.values()) == LARGE + len(streamed)
    assert len(streamed) > attempts[0]  # the stream was committing while the large batch tried
    print(f"\nCONFLICTS ({backend.name}): large batch of {LARGE} committed after {len(attempts)} full-size attempt(s), in {calls} "
          f"call(s); the other loader committed {len(streamed)} small batches meanwhile")
