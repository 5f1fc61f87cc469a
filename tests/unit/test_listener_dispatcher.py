"""The dispatcher loads current object versions, dead-letters what cannot load, and reports per file."""

from __future__ import annotations

import json
import logging

import pytest

from lakehouse.errors import RetryableError
from listener.dispatcher import Dispatcher
from listener.metrics import ListenerMetrics
from listener.sources import Delivery
from listener.testing import FakeLoader, MemoryDeadLetters, MemoryStore, notification

BUCKET = "lakehouse"


def make(objects: dict[str, bytes]) -> tuple[Dispatcher, FakeLoader, MemoryStore, MemoryDeadLetters, ListenerMetrics]:
    loader, store, dlq, metrics = FakeLoader(), MemoryStore(objects), MemoryDeadLetters(), ListenerMetrics()
    return Dispatcher(loader, store, dlq, metrics, bucket=BUCKET, origin="kafka", listener_id="test"), loader, store, dlq, metrics


def test_a_batch_is_one_load_call_with_one_commit_per_table() -> None:
    d, loader, *_ = make({"raw/ecoride/sales/a.csv": b"1\n2\n", "raw/ecoride/sales/b.csv": b"3\n", "raw/chargenet/stations/s.json": b"{}\n"})
    report = d.load_events([notification(BUCKET, k) for k in ("raw/ecoride/sales/a.csv", "raw/ecoride/sales/b.csv", "raw/chargenet/stations/s.json")])
    assert len(loader.calls) == 1
    assert sorted(t for t, _ in loader.commits) == ["chargenet_stations", "ecoride_sales"]
    assert report.count("loaded") == 3 and report.rows == 4


def test_the_current_version_is_loaded_whatever_etag_the_event_carried() -> None:
    d, loader, store, *_ = make({"raw/ecoride/sales/a.csv": b"new\n"})
    d.load_events([notification(BUCKET, "raw/ecoride/sales/a.csv", etag="stale")])
    assert loader.ledger == {("raw/ecoride/sales/a.csv", store.stat("raw/ecoride/sales/a.csv").etag)}


def test_the_same_key_twice_in_a_batch_is_stated_and_loaded_once() -> None:
    d, loader, store, *_ = make({"raw/ecoride/sales/a.csv": b"x\n"})
    d.load_events([notification(BUCKET, "raw/ecoride/sales/a.csv")] * 2)
    assert loader.calls == [["raw/ecoride/sales/a.csv"]]
    assert store.stats == ["raw/ecoride/sales/a.csv"]


def test_a_quarantined_file_gets_a_dead_letter_with_reason_exception_and_event_while_the_rest_loads() -> None:
    d, loader, _, dlq, metrics = make({"raw/ecoride/sales/bad.csv": b"BAD", "raw/ecoride/sales/good.csv": b"ok\n", "raw/x.csv": b"1"})
    report = d.load_events([notification(BUCKET, k) for k in ("raw/ecoride/sales/bad.csv", "raw/x.csv", "raw/ecoride/sales/good.csv")])
    assert report.count("loaded") == 1 and report.count("quarantined") == 2
    letters = {dl.key: dl for dl in dlq.letters}
    assert letters["raw/ecoride/sales/bad.csv"].reason == "parse_error"
    assert letters["raw/x.csv"].reason == "unroutable_key"
    assert letters["raw/x.csv"].exception == "lakehouse.errors.PermanentError"
    assert letters["raw/x.csv"].event["s3"]["object"]["key"] == "raw/x.csv"
    assert letters["raw/x.csv"].bucket == BUCKET and letters["raw/x.csv"].listener == "test"
    assert metrics.value("lakehouse_listener_failures_total", reason="unroutable_key") == 1
    assert metrics.value("lakehouse_listener_files_total", table="ecoride_sales", outcome="loaded") == 1
    assert metrics.value("lakehouse_listener_rows_loaded_total", table="ecoride_sales") == 1


def test_an_object_deleted_before_it_was_loaded_is_a_dead_letter_not_a_failure_of_the_batch() -> None:
    d, loader, _, dlq, _ = make({"raw/ecoride/sales/a.csv": b"1\n"})
    report = d.load_events([notification(BUCKET, "raw/ecoride/sales/gone.csv"), notification(BUCKET, "raw/ecoride/sales/a.csv")])
    assert report.count("loaded") == 1 and report.count("missing") == 1
    assert [(dl.key, dl.reason) for dl in dlq.letters] == [("raw/ecoride/sales/gone.csv", "object_missing")]


def test_an_unreadable_message_goes_to_the_dead_letter_topic_with_its_payload() -> None:
    d, _, _, dlq, _ = make({})
    d.load_events([], [Delivery(events=(), token=1, error="not json", payload=b"\xffgarbage")])
    assert dlq.letters[0].reason == "bad_event"
    assert "garbage" in dlq.letters[0].event["payload"]


def test_if_dead_letters_cannot_be_published_the_batch_fails_as_retryable_and_retrying_is_a_no_op_for_loaded_files() -> None:
    d, loader, _, dlq, _ = make({"raw/ecoride/sales/bad.csv": b"BAD", "raw/ecoride/sales/good.csv": b"ok\n"})
    dlq.failures.append(RetryableError("broker down"))
    events = [notification(BUCKET, k) for k in ("raw/ecoride/sales/bad.csv", "raw/ecoride/sales/good.csv")]
    with pytest.raises(RetryableError):
        d.load_events(events)
    report = d.load_events(events)
    assert report.count("duplicate") == 1
    assert [dl.key for dl in dlq.letters] == ["raw/ecoride/sales/bad.csv"]
    assert loader.rows["ecoride_sales"] == ["raw/ecoride/sales/good.csv"]


def test_one_by_one_isolates_a_file_that_breaks_the_loader() -> None:
    d, loader, _, dlq, _ = make({"raw/ecoride/sales/a.csv": b"1\n", "raw/ecoride/sales/boom.csv": b"2\n"})
    original = loader.load

    def load(objects):  # noqa: ANN001, ANN202
        if any(o.key.endswith("boom.csv") for o in objects):
            raise ValueError("bug in a parser")
        return original(objects)

    loader.load = load  # type: ignore[method-assign]
    report = d.load_events([notification(BUCKET, k) for k in ("raw/ecoride/sales/a.csv", "raw/ecoride/sales/boom.csv")], one_by_one=True)
    assert report.count("loaded") == 1 and report.count("failed") == 1
    assert [(dl.key, dl.reason, dl.exception) for dl in dlq.letters] == [("raw/ecoride/sales/boom.csv", "unexpected", "builtins.ValueError")]


def test_one_structured_log_line_per_file(caplog: pytest.LogCaptureFixture) -> None:
    d, *_ = make({"raw/ecoride/sales/a b ü.csv": b"1\n2\n"})
    with caplog.at_level(logging.INFO, logger="listener.dispatcher"):
        d.load_events([notification(BUCKET, "raw/ecoride/sales/a b ü.csv")])
    [line] = [r for r in caplog.records if r.getMessage().startswith("file ")]
    assert line.getMessage() == 'file key="raw/ecoride/sales/a b ü.csv" table=ecoride_sales rows=2 ms=1 outcome=loaded'
    assert line.file == {"key": "raw/ecoride/sales/a b ü.csv", "table": "ecoride_sales", "rows": 2, "ms": 1.0, "outcome": "loaded"}
    assert json.dumps(line.file)


def test_a_file_the_loader_fails_on_unexpectedly_is_quarantined_as_unexpected_and_the_others_load() -> None:
    loader, store, dlq = FakeLoader(), MemoryStore({"raw/ecoride/sales/a.csv": b"1\n", "raw/ecoride/sales/deep.csv": b"2\n"}), MemoryDeadLetters()
    quarantined: list[tuple[str, str, str]] = []
    d = Dispatcher(loader, store, dlq, ListenerMetrics(), bucket=BUCKET, origin="kafka",
                   quarantine=lambda obj, error: quarantined.append((obj.key, error.reason, type(error.__cause__).__name__)))
    original = loader.load

    def load(objects):  # noqa: ANN001, ANN202
        if any(o.key.endswith("deep.csv") for o in objects):
            raise RecursionError("maximum recursion depth exceeded")
        return original(objects)

    loader.load = load  # type: ignore[method-assign]
    report = d.load_events([notification(BUCKET, k) for k in ("raw/ecoride/sales/a.csv", "raw/ecoride/sales/deep.csv")], one_by_one=True)
    assert report.count("loaded") == 1 and report.count("quarantined") == 1
    assert quarantined == [("raw/ecoride/sales/deep.csv", "unexpected", "RecursionError")]
    assert [(dl.key, dl.reason) for dl in dlq.letters] == [("raw/ecoride/sales/deep.csv", "unexpected")]
