"""The listener loop: micro-batches, acknowledges only loaded work, retries what is transient."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from dataclasses import replace

import pytest

from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from listener.app import build_listener
from listener.config import ListenerConfig
from listener.service import Listener
from listener.sources import Delivery
from listener.testing import FakeLoader, MemoryDeadLetters, MemoryStore, ScriptedSource, deliveries, notification

BUCKET = "lakehouse"
SALES = "raw/ecoride/sales/"


def config(**overrides: object) -> ListenerConfig:
    base = ListenerConfig(settings=Settings(bucket=BUCKET), max_batch_wait_s=0, retry_initial_s=0.001, retry_max_s=0.002, metrics_enabled=False,
                          outage_probe_s=0)
    return replace(base, **overrides)


def run(polls: list[list[Delivery]], objects: dict[str, bytes] | None = None, loader: FakeLoader | None = None, **overrides: object):  # noqa: ANN201
    """Run a listener over scripted polls until they are exhausted; return (listener, source, loader, dlq)."""
    source = ScriptedSource(polls=deque(polls))
    loader = loader or FakeLoader()
    dlq = MemoryDeadLetters()
    listener, _ = build_listener(config(**overrides), source=source, loader=loader, store=MemoryStore(objects or {}), dead_letters=dlq)
    source.on_empty = listener.stop
    listener.run()
    return listener, source, loader, dlq


def files(n: int, prefix: str = SALES) -> dict[str, bytes]:
    return {f"{prefix}f{i:03d}.csv": b"row\n" for i in range(n)}


def events_for(objects: dict[str, bytes]) -> list:
    return [notification(BUCKET, k, size=len(v)) for k, v in objects.items()]


def test_the_events_of_one_poll_load_as_one_batch_and_are_acknowledged_only_afterwards() -> None:
    objects = files(3)
    source_commits_at_load: list[int] = []
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]))
    loader = FakeLoader()
    loader.on_load = lambda objs: source_commits_at_load.append(len(source.committed))
    listener, _ = build_listener(config(), source=source, loader=loader, store=MemoryStore(objects), dead_letters=MemoryDeadLetters())
    source.on_empty = listener.stop
    listener.run()
    assert loader.calls == [sorted(objects)]
    assert source_commits_at_load == [0]
    assert source.committed == [0, 1, 2]
    assert source.closed


def test_batches_are_bounded_by_file_count() -> None:
    objects = files(5)
    _, source, loader, _ = run([deliveries(*events_for(objects))], objects, max_batch_files=2)
    assert [len(c) for c in loader.calls] == [2, 2, 1]
    assert source.committed == [0, 1, 2, 3, 4]


def test_batches_are_bounded_by_bytes() -> None:
    objects = {f"{SALES}big{i}.csv": b"r\n" * 5 for i in range(3)}
    _, _, loader, _ = run([deliveries(*events_for(objects))], objects, max_batch_bytes=15)
    assert [len(c) for c in loader.calls] == [1, 1, 1]


def test_a_batch_lingers_for_more_events_up_to_its_time_bound() -> None:
    objects = files(2)
    first, second = events_for(objects)
    _, source, loader, _ = run([deliveries(first), deliveries(second, start=1)], objects, max_batch_wait_s=30)
    assert loader.calls == [sorted(objects)]  # one batch, flushed by the stop, not two
    assert source.committed == [0, 1]


def test_events_for_other_buckets_and_outside_raw_are_counted_and_acknowledged_without_loading() -> None:
    polls = [deliveries(notification("other", f"{SALES}a.csv"), notification(BUCKET, "quarantine/x.csv"))]
    listener, source, loader, _ = run(polls)
    assert loader.calls == []
    assert source.committed == [0, 1]
    assert listener.metrics.value("lakehouse_listener_events_ignored_total", reason="other_bucket") == 1
    assert listener.metrics.value("lakehouse_listener_events_ignored_total", reason="outside_raw") == 1


def test_a_transient_failure_retries_the_same_batch_and_acknowledges_once_it_loads() -> None:
    objects = files(2)
    loader = FakeLoader()
    loader.failures.extend([RetryableError("catalog down"), RetryableError("still down")])
    listener, source, loader, dlq = run([deliveries(*events_for(objects))], objects, loader=loader)
    assert loader.calls == [sorted(objects)] * 3
    assert source.commits == [[0, 1]]
    assert dlq.letters == [] and loader.quarantined == []
    assert listener.metrics.value("lakehouse_listener_failures_total", reason="transient") == 2


def test_stopping_while_retrying_acknowledges_nothing() -> None:
    objects = files(1)
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]))
    loader = FakeLoader()
    loader.failures.extend([RetryableError("down")] * 100)
    listener, _ = build_listener(config(), source=source, loader=loader, store=MemoryStore(objects), dead_letters=MemoryDeadLetters())
    loader.on_load = lambda objs: listener.stop() if len(loader.calls) >= 3 else None
    listener.run()
    assert len(loader.calls) == 3
    assert source.commits == []


def test_stopping_while_retrying_does_not_acknowledge_the_failed_batch_by_draining_later_events() -> None:
    # Regression: the drain on stop loaded and committed the events polled after
    # the abandoned batch; committing their (higher) offsets acknowledged the
    # abandoned files too, and they were never loaded by anyone.
    objects = files(3)
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]))
    loader = FakeLoader()
    loader.failures.extend([RetryableError("commit conflicted")] * 100)
    listener, _ = build_listener(config(max_batch_files=2), source=source, loader=loader, store=MemoryStore(objects),
                                 dead_letters=MemoryDeadLetters())
    loader.on_load = lambda objs: listener.stop() if len(loader.calls) >= 2 else None
    listener.run()
    assert all(len(call) == 2 for call in loader.calls)  # only the failing batch, never the buffered third file
    assert source.commits == []


def test_deliveries_taken_back_by_a_rebalance_are_neither_loaded_nor_acknowledged() -> None:
    objects = files(2)
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]), invalid={1})
    loader = FakeLoader()
    listener, _ = build_listener(config(), source=source, loader=loader, store=MemoryStore(objects), dead_letters=MemoryDeadLetters())
    source.on_empty = listener.stop
    listener.run()
    assert loader.calls == [[f"{SALES}f000.csv"]]
    assert source.committed == [0]


def test_a_tombstone_and_a_garbage_message_are_dead_lettered_as_bad_events_acknowledged_and_the_loop_goes_on() -> None:
    objects = files(1)
    polls = [
        [Delivery(events=(), token=0, error="not a MinIO notification: a null payload (Kafka tombstone)", payload=None),
         Delivery(events=(), token=1, error="not a MinIO notification: JSONDecodeError", payload=b"\xffgarbage")],
        deliveries(*events_for(objects), start=2),
    ]
    listener, source, loader, dlq = run(polls, objects)
    assert [(dl.reason, dl.event["tombstone"]) for dl in dlq.letters] == [("bad_event", True), ("bad_event", False)]
    assert source.committed == [0, 1, 2]
    assert loader.rows["ecoride_sales"] == [f"{SALES}f000.csv"]
    assert listener.metrics.value("lakehouse_listener_failures_total", reason="bad_event") == 2


def test_a_batch_that_keeps_failing_unexpectedly_is_loaded_file_by_file_and_acknowledged() -> None:
    objects = files(2)
    loader = FakeLoader()
    loader.failures.extend([ValueError("bug"), ValueError("bug")])
    listener, source, loader, _ = run([deliveries(*events_for(objects))], objects, loader=loader, max_unexpected_failures=2)
    assert [len(c) for c in loader.calls] == [2, 2, 1, 1]
    assert source.committed == [0, 1]
    assert sorted(loader.rows["ecoride_sales"]) == sorted(objects)


def test_a_permanent_failure_of_a_whole_batch_goes_file_by_file_at_once() -> None:
    objects = files(2)
    loader = FakeLoader()
    loader.failures.append(PermanentError("whole batch refused", reason="schema_limit"))
    _, source, loader, _ = run([deliveries(*events_for(objects))], objects, loader=loader)
    assert [len(c) for c in loader.calls] == [2, 1, 1]
    assert source.committed == [0, 1]


def test_start_up_reconcile_loads_what_the_ledger_lacks_except_files_the_source_holds() -> None:
    objects = files(3)
    source = ScriptedSource(held={f"{SALES}f001.csv"})
    loader = FakeLoader()
    store = MemoryStore(objects)
    listener, _ = build_listener(config(replay_on_start=True), source=source, loader=loader, store=store, dead_letters=MemoryDeadLetters())
    source.on_empty = lambda: listener.stop() if listener.caught_up.is_set() else None
    listener.run()
    assert loader.calls == [[f"{SALES}f000.csv", f"{SALES}f002.csv"]]


class BlockingLoader(FakeLoader):
    """A loader whose ``pending`` (the reconcile's ledger check) blocks until released, or raises."""

    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.error = error

    def pending(self, objects):  # noqa: ANN001, ANN201
        self.entered.set()
        assert self.release.wait(10), "the test never released the reconcile pass"
        if self.error is not None:
            raise self.error
        return super().pending(objects)


def test_a_long_start_up_reconcile_does_not_stop_polling_and_is_reported_in_health_and_metrics() -> None:
    # Regression (issue 9, item 10): the pass ran on the poll thread, so nothing was
    # polled until it ended (a rebalance after max.poll.interval.ms) and /healthz said ok.
    old, new = {f"{SALES}old.csv": b"r\n"}, {f"{SALES}new.csv": b"r\n"}
    loader = BlockingLoader()
    source = ScriptedSource(polls=deque([deliveries(*events_for(new))]))
    listener, _ = build_listener(config(replay_on_start=True), source=source, loader=loader, store=MemoryStore(old | new),
                                 dead_letters=MemoryDeadLetters())
    seen: dict[str, object] = {}

    def idle() -> None:
        if "during" not in seen and loader.rows.get("ecoride_sales"):
            seen["during"] = (list(loader.rows["ecoride_sales"]), listener.health())
            seen["running_gauge"] = listener.metrics.value("lakehouse_listener_reconcile_running")
            loader.release.set()
        elif listener.caught_up.is_set():
            listener.stop()

    source.on_empty = idle
    listener.run()
    rows_during, (ok, body) = seen["during"]  # type: ignore[misc]
    assert rows_during == [f"{SALES}new.csv"]  # loaded by the poll thread while the pass was blocked
    assert ok and body["reconcile"]["running"] is True and seen["running_gauge"] == 1
    after = listener.health()[1]["reconcile"]
    assert after["running"] is False and after["passes"] == 1 and after["last_duration_s"] > 0 and after["last_error"] is None
    assert after["last_summary"]["loaded"] == 1  # old.csv; new.csv was a duplicate by then
    assert listener.metrics.value("lakehouse_listener_reconcile_running") == 0
    assert listener.metrics.value("lakehouse_listener_reconcile_last_duration_seconds") > 0
    assert listener.metrics.value("lakehouse_listener_reconcile_passes_total") == 1
    assert sorted(loader.rows["ecoride_sales"]) == [f"{SALES}new.csv", f"{SALES}old.csv"]


def test_a_reconcile_pass_that_fails_is_reported_and_the_listener_keeps_consuming() -> None:
    objects = files(1)
    loader = BlockingLoader(error=ValueError("ledger bug"))
    loader.release.set()
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]))
    listener, _ = build_listener(config(replay_on_start=True), source=source, loader=loader, store=MemoryStore(objects),
                                 dead_letters=MemoryDeadLetters())
    source.on_empty = lambda: listener.stop() if listener.caught_up.is_set() else None
    listener.run()
    status = listener.health()[1]["reconcile"]
    assert status["last_error"] == "ValueError: ledger bug" and status["passes"] == 1
    assert listener.metrics.value("lakehouse_listener_reconcile_errors_total") == 1
    assert listener.metrics.value("lakehouse_listener_reconcile_last_error_timestamp_seconds") > 0
    assert loader.rows["ecoride_sales"] == [f"{SALES}f000.csv"] and source.committed == [0]


def test_metrics_and_healthz_are_served_while_running() -> None:
    seen: dict[str, object] = {}
    source = ScriptedSource()
    listener, _ = build_listener(
        config(metrics_enabled=True, metrics_port=0), source=source, loader=FakeLoader(), store=MemoryStore(), dead_letters=MemoryDeadLetters()
    )

    def probe() -> None:
        seen["polls"] = int(seen.get("polls", 0)) + 1  # type: ignore[call-overload]
        if seen["polls"] < 2:
            return  # the first poll has not yet set the gauges
        base = f"http://127.0.0.1:{listener.metrics_server.port}"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            seen["metrics"] = response.read().decode()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            seen["health"] = (response.status, json.loads(response.read()))
        listener.stop()

    source.on_empty = probe
    listener.run()
    assert "lakehouse_listener_batch_duration_seconds_bucket" in seen["metrics"]
    assert 'lakehouse_listener_consumer_lag{partition="p0"} 0.0' in seen["metrics"]
    status, body = seen["health"]
    assert status == 200 and body["status"] == "ok" and body["state"] == "running" and body["source"] == "scripted"
    assert listener.health()[0] is False  # stopped


def test_two_listeners_in_one_process_have_separate_registries() -> None:
    a = build_listener(config(), source=ScriptedSource(), loader=FakeLoader(), store=MemoryStore(), dead_letters=MemoryDeadLetters())[0]
    b = build_listener(config(), source=ScriptedSource(), loader=FakeLoader(), store=MemoryStore(), dead_letters=MemoryDeadLetters())[0]
    assert isinstance(a, Listener) and a.metrics.registry is not b.metrics.registry


@pytest.mark.parametrize("failures", [0, 1])
def test_dead_letters_refused_by_the_broker_hold_the_batch_back(failures: int) -> None:
    objects = {f"{SALES}bad.csv": b"BAD"}
    source = ScriptedSource(polls=deque([deliveries(*events_for(objects))]))
    dlq = MemoryDeadLetters()
    dlq.failures.extend([RetryableError("broker down")] * failures)
    listener, _ = build_listener(config(), source=source, loader=FakeLoader(), store=MemoryStore(objects), dead_letters=dlq)
    source.on_empty = listener.stop
    listener.run()
    assert [dl.reason for dl in dlq.letters] == ["parse_error"]
    assert source.commits == [[0]]


def test_health_stays_ok_during_a_long_load_and_turns_unhealthy_when_the_loop_stalls() -> None:
    listener, _ = build_listener(config(), source=ScriptedSource(), loader=FakeLoader(), store=MemoryStore(), dead_letters=MemoryDeadLetters())
    listener.state = "loading"
    listener._heartbeat -= 600  # noqa: SLF001 - simulating ten minutes without a poll
    assert listener.health()[0] is True
    listener.state = "running"
    ok, body = listener.health()
    assert ok is False and body["status"] == "unhealthy" and body["seconds_since_heartbeat"] >= 600


class _TimedSource(ScriptedSource):
    """Records each poll's timeout (the listener's wait for more events); announces ``lag`` ahead of the polls."""

    def __init__(self, polls: list[list[Delivery]], lag: int = 0) -> None:
        super().__init__(polls=deque(polls))
        self.timeouts: list[float] = []
        self.announced = lag

    def poll(self, timeout_s: float) -> list[Delivery]:
        self.timeouts.append(timeout_s)
        return super().poll(timeout_s)

    def lag(self) -> dict[str, int]:
        return {"p0": self.announced}


def run_lingering(source: _TimedSource, objects: dict[str, bytes], idle_s: float) -> list[list[str]]:
    """The batches a listener with a 30 s linger and an idle gap of ``idle_s`` loads from ``source``."""
    loader = FakeLoader()
    listener, _ = build_listener(config(max_batch_wait_s=30, batch_idle_s=idle_s), source=source, loader=loader,
                                 store=MemoryStore(objects), dead_letters=MemoryDeadLetters())
    source.on_empty = listener.stop
    listener.run()
    return loader.calls


def test_a_lone_file_loads_after_the_idle_gap_not_the_whole_linger() -> None:
    """Freshness: with a 30 s linger, a file followed by silence still loads at once; a burst still batches."""
    objects = files(4)
    first, second, third, fourth = events_for(objects)
    source = _TimedSource([deliveries(first), [], deliveries(second, start=1), deliveries(third, start=2),
                           deliveries(fourth, start=3)])
    # The silent poll closed the first batch; the next three arrived poll after poll: one batch.
    assert run_lingering(source, objects, idle_s=0.05) == [[f"{SALES}f000.csv"], sorted(objects)[1:]]
    assert source.timeouts[0] == pytest.approx(0.2)  # nothing open: the full poll timeout
    assert source.timeouts[1] == pytest.approx(0.05, abs=0.01)  # a batch open: wait only the idle gap


def test_batch_idle_zero_keeps_the_full_linger() -> None:
    objects = files(2)
    first, second = events_for(objects)
    source = _TimedSource([deliveries(first), [], deliveries(second, start=1)])
    assert run_lingering(source, objects, idle_s=0) == [sorted(objects)]


def test_a_batch_keeps_lingering_while_the_source_says_more_is_on_its_way() -> None:
    """A silent poll with events still unfetched at the broker (or files still settling) is no idle gap."""
    objects = files(2)
    first, second = events_for(objects)
    source = _TimedSource([deliveries(first), [], deliveries(second, start=1)], lag=1)
    assert run_lingering(source, objects, idle_s=0.05) == [sorted(objects)]


# ---- the outage catch-up: one reconcile pass after a recovery ---------------------
def test_a_batch_that_loads_after_a_transient_failure_is_followed_by_one_reconcile_pass() -> None:
    # An object written while MinIO was being stopped may never raise its event:
    # once loads work again, one listing finds it (no periodic pass is configured).
    sent, silent = files(1), {f"{SALES}no-event.csv": b"row\n"}
    loader = FakeLoader()
    loader.failures.append(RetryableError("storage down"))
    source = ScriptedSource(polls=deque([deliveries(*events_for(sent))]))
    listener, _ = build_listener(config(outage_probe_s=30, outage_settle_s=0), source=source, loader=loader,
                                 store=MemoryStore(sent | silent), dead_letters=MemoryDeadLetters())
    give_up = time.monotonic() + 10
    source.on_empty = lambda: listener.stop() if listener.health()[1]["reconcile"]["passes"] or time.monotonic() > give_up else None
    listener.run()
    status = listener.health()[1]["reconcile"]
    assert status["outage_catch_ups"] == 1 and status["last_summary"]["loaded"] == 1
    assert sorted(loader.rows["ecoride_sales"]) == sorted(sent | silent)


def test_the_store_answering_again_after_failing_its_probe_triggers_one_pass() -> None:
    silent = {f"{SALES}no-event.csv": b"row\n"}
    store = MemoryStore(silent)
    store.up = False
    loader = FakeLoader()
    source = ScriptedSource()
    listener, _ = build_listener(config(outage_probe_s=0.01, outage_settle_s=0), source=source, loader=loader, store=store,
                                 dead_letters=MemoryDeadLetters())
    seen: dict[str, object] = {}
    give_up = time.monotonic() + 10

    def idle() -> None:
        status = listener.health()[1]["reconcile"]
        if "down" not in seen and status["store_answers"] is False:
            seen["down"] = status["passes"]  # no pass while the store does not answer
            store.up = True
        elif status["passes"] or time.monotonic() > give_up:
            listener.stop()

    source.on_empty = idle
    listener.run()
    assert seen["down"] == 0
    assert listener.health()[1]["reconcile"]["outage_catch_ups"] == 1
    assert loader.rows["ecoride_sales"] == list(silent)


def test_a_store_that_keeps_answering_costs_no_pass() -> None:
    loader = FakeLoader()
    source = ScriptedSource()
    listener, _ = build_listener(config(outage_probe_s=0.01, outage_settle_s=0), source=source, loader=loader,
                                 store=MemoryStore(files(1)), dead_letters=MemoryDeadLetters())
    stop_at = threading.Timer(0.3, listener.stop)
    stop_at.start()
    listener.run()
    stop_at.join()
    status = listener.health()[1]["reconcile"]
    assert status["store_answers"] is True and status["passes"] == 0 and loader.calls == []
