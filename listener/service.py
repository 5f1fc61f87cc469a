"""The listener loop: poll, filter, micro-batch, load, acknowledge; retry what is transient.

Guarantees (DESIGN.md section 5) and how this loop keeps them:

* Nothing lost: a delivery is acknowledged (``source.commit``) only after the
  batch containing it is loaded, i.e. its files are in bronze (the Iceberg
  commit returned), in quarantine, or on the dead-letter topic.
* Nothing twice: at-least-once delivery plus the loader's ledger. Deliveries
  taken back by a rebalance are dropped unloaded (the new owner has them).
* Transient failures retry the same batch in place with capped exponential
  backoff, forever while the listener runs; nothing is acknowledged meanwhile.
  Leaving the loop (stop) during a retry acknowledges nothing, so the events
  are delivered again on the next start.

The start-up and periodic reconcile run on their own thread
(:mod:`listener.reconciler`): a long pass never stops polling.

Hazard: while a batch is retried the loop does not poll. If that lasts longer
than Kafka's ``max.poll.interval.ms`` (5 minutes) the group moves our
partitions elsewhere; the commit is then rejected and the events are loaded
(as no-ops) by the new owner. Correct, just wasteful.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ingestion.storage import ObjectStore
from lakehouse import reasons
from lakehouse.errors import PermanentError, RetryableError
from listener.config import ListenerConfig
from listener.dispatcher import BatchReport, Dispatcher, Loader
from listener.events import ObjectCreated, ignore_reason
from listener.metrics import ListenerMetrics, MetricsServer
from listener.reconciler import Reconciler
from listener.replay import ReplayReport
from listener.sources import Delivery, EventSource

log = logging.getLogger(__name__)

T = TypeVar("T")
STALL_AFTER_S = 60.0


@dataclass
class _Buffered:
    delivery: Delivery
    events: list[ObjectCreated]
    arrived: float

    @property
    def size(self) -> int:
        return sum(e.size for e in self.events)


@dataclass
class Totals:
    batches: int = 0
    files: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    def add(self, report: BatchReport) -> None:
        self.batches += 1 if report.files else 0
        for f in report.files:
            self.files[f.outcome] = self.files.get(f.outcome, 0) + 1
        self.rows += report.rows


class Listener:
    """One listener instance. ``run()`` blocks until ``stop()`` (any thread, or a signal handler)."""

    def __init__(
        self,
        config: ListenerConfig,
        source: EventSource,
        dispatcher: Dispatcher,
        loader: Loader,
        store: ObjectStore,
        metrics: ListenerMetrics,
        *,
        reconcile_dispatcher: Dispatcher | None = None,
        reconcile_loader: Loader | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.dispatcher = dispatcher
        self.loader = loader
        self.store = store
        self.metrics = metrics
        self.totals = Totals()
        self.state = "starting"
        self.metrics_server: MetricsServer | None = None
        self.ready = threading.Event()  # set once consuming (the start-up reconcile runs beside it)
        self._stop = threading.Event()
        self._buffer: deque[_Buffered] = deque()
        self._heartbeat = time.monotonic()
        self._totals_lock = threading.Lock()  # the reconcile thread adds its reports too
        self.reconciler = Reconciler(
            config, store, reconcile_loader or loader, reconcile_dispatcher or dispatcher, metrics,
            hold=source.hold, stop=self._stop, on_report=self._add_reconcile,
        )

    @property
    def caught_up(self) -> threading.Event:
        """Set once the start-up reconcile pass ended (at once without one)."""
        return self.reconciler.caught_up

    # ---- lifecycle ------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the current batch, acknowledge it and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Consume until stopped. Raises only for errors retrying cannot fix (configuration)."""
        if self.config.metrics_enabled:
            self.metrics_server = MetricsServer(self.metrics, self.health, self.config.metrics_host, self.config.metrics_port).start()
        try:
            self._retrying("connect", self.source.start)
            if not self.stopping:
                self.reconciler.start(initial=self.config.replay_on_start)
            self.state = "running"
            self.ready.set()
            while not self.stopping:
                self._tick()
            self.state = "draining"
            self._drain()
        finally:
            self._stop.set()
            if not self.reconciler.join(timeout=60):
                log.warning("the reconcile pass did not end within 60s of the stop; leaving it behind")
            self.state = "stopped"
            self.ready.set()
            self.source.close()
            if self.metrics_server is not None:
                self.metrics_server.close()
            log.info("listener stopped: %d batches, files %s, %d rows", self.totals.batches, self.totals.files, self.totals.rows)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``(ok, body)`` for /healthz: not ok once stopped, or when the loop stopped polling
        for ``STALL_AFTER_S`` outside a load. A long load stays ok (a liveness probe must
        not kill a listener busy with a big file); ``seconds_since_heartbeat`` shows it."""
        age = time.monotonic() - self._heartbeat
        alive = self.state in ("starting", "running", "loading", "retrying", "draining")
        ok = alive and (age < STALL_AFTER_S or self.state == "loading")
        with self._totals_lock:
            totals = {"batches": self.totals.batches, "files": dict(self.totals.files), "rows": self.totals.rows}
        body = {
            "status": "ok" if ok else "unhealthy",
            "state": self.state,
            "seconds_since_heartbeat": round(age, 3),
            "buffered_deliveries": len(self._buffer),
            "totals": totals,
            "reconcile": self.reconciler.status(),
            **self.source.status(),
        }
        return ok, body

    # ---- the loop -------------------------------------------------------------
    def _tick(self) -> None:
        timeout = self._poll_timeout()
        deliveries = self._retrying("poll", lambda: self.source.poll(timeout))
        self._beat()
        for delivery in deliveries or ():
            self._accept(delivery)
        # A poll that waited the idle gap and brought nothing, with nothing else on its way
        # (no unfetched event at the broker, no landed file still settling), closes the open
        # batch: a lone file loads ~batch_idle_s after its event, not max_batch_wait_s; a
        # burst keeps arriving, so its batches still fill up to their bounds.
        idle = not deliveries and self.config.batch_idle_s > 0 and bool(self._buffer) \
            and not any(self.source.lag().values())
        while self._due(idle):
            self._flush(self._take())
            idle = False  # only the batch that was waiting; the rest of the buffer is fresh
        self.metrics.set_lag(self.source.lag())

    def _poll_timeout(self) -> float:
        """The full poll timeout while nothing waits; with a batch open, the idle gap, within its linger."""
        if not self._buffer or self.config.batch_idle_s <= 0:
            return self.config.poll_timeout_s
        left = self.config.max_batch_wait_s - (time.monotonic() - self._buffer[0].arrived)
        return max(0.001, min(self.config.poll_timeout_s, self.config.batch_idle_s, left))

    def _accept(self, delivery: Delivery) -> None:
        if delivery.other_records:
            self.metrics.events.labels(kind="other").inc(delivery.other_records)
            self.metrics.ignored.labels(reason="not_object_created").inc(delivery.other_records)
        if delivery.error:
            self.metrics.events.labels(kind="unreadable").inc()
        accepted = []
        for event in delivery.events:
            self.metrics.events.labels(kind="object_created").inc()
            reason = ignore_reason(event, self.config.settings)
            if reason is None:
                accepted.append(event)
            else:
                self.metrics.ignored.labels(reason=reason).inc()
                log.debug("ignored %s/%s: %s", event.bucket, event.key, reason)
        self._buffer.append(_Buffered(delivery, accepted, time.monotonic()))

    def _due(self, idle: bool = False) -> bool:
        if not self._buffer:
            return False
        if self.stopping or idle:
            return True
        files = sum(len(b.events) for b in self._buffer)
        size = sum(b.size for b in self._buffer)
        waited = time.monotonic() - self._buffer[0].arrived
        return files >= self.config.max_batch_files or size >= self.config.max_batch_bytes or waited >= self.config.max_batch_wait_s

    def _take(self) -> list[_Buffered]:
        """The oldest deliveries up to the batch bounds (at least one; a message is never split)."""
        batch: list[_Buffered] = []
        files = size = 0
        while self._buffer:
            nxt = self._buffer[0]
            if batch and (files + len(nxt.events) > self.config.max_batch_files or size + nxt.size > self.config.max_batch_bytes):
                break
            batch.append(self._buffer.popleft())
            files += len(nxt.events)
            size += nxt.size
        return batch

    def _flush(self, batch: list[_Buffered]) -> None:
        batch = [b for b in batch if self.source.valid(b.delivery.token)]
        events = [e for b in batch for e in b.events]
        unreadable = [b.delivery for b in batch if b.delivery.error]
        if events or unreadable:
            log.debug("batch: %d files from %d deliveries", len(events), len(batch))
            previous, self.state = self.state, "loading"
            try:
                report = self._load(events, unreadable)
            finally:
                self.state = previous
            if report is None:
                # Stopped while retrying: acknowledge nothing, and drop what was
                # polled after it too. Committing a later offset of the same
                # partition (as draining it would) acknowledges this unloaded
                # batch with it, and those files would never be loaded.
                self._buffer.clear()
                return
            with self._totals_lock:
                self.totals.add(report)
            now = time.time()
            for b in batch:
                if b.events and b.delivery.published_at is not None:
                    self.metrics.delivery_latency.observe(max(0.0, now - b.delivery.published_at))
        if batch:
            self.source.commit([b.delivery.token for b in batch])

    def _load(self, events: list[ObjectCreated], unreadable: list[Delivery]) -> BatchReport | None:
        """Load one batch, retrying in place; ``None`` if stopped before it succeeded.

        A batch that fails permanently as a whole, or unexpectedly (a bug) a few
        times in a row, is loaded file by file so one bad file cannot block the
        others; the culprit ends on the dead-letter topic.
        """
        attempt = unexpected = 0
        one_by_one = False
        while True:
            try:
                report = self.dispatcher.load_events(events, unreadable, one_by_one=one_by_one)
                if attempt:
                    self.reconciler.request("a batch loaded after a transient failure")
                return report
            except RetryableError as exc:
                self.metrics.fail(reasons.TRANSIENT)
                log.warning("batch of %d files: transient failure, retrying (attempt %d): %s", len(events), attempt + 1, exc)
            except Exception as exc:  # noqa: BLE001 - one bad batch must not kill the consumer
                unexpected += 1
                self.metrics.fail(exc.reason if isinstance(exc, PermanentError) else reasons.UNEXPECTED)
                log.exception("batch of %d files failed (%d/%d)", len(events), unexpected, self.config.max_unexpected_failures)
                if not one_by_one and (isinstance(exc, PermanentError) or unexpected >= self.config.max_unexpected_failures):
                    log.warning("loading the batch's files one by one")
                    one_by_one = True
                    continue
            if not self._backoff(attempt):
                return None
            attempt += 1

    def _drain(self) -> None:
        """On stop: load and acknowledge what was already polled (one attempt, no retries)."""
        while self._buffer:
            self._flush(self._take())

    # ---- reconcile (its passes run on the reconciler's thread) -----------------
    def _add_reconcile(self, report: ReplayReport) -> None:
        with self._totals_lock:
            self.totals.add(report.batch)

    # ---- retry helpers --------------------------------------------------------
    def _retrying(self, what: str, call: Callable[[], T]) -> T | None:
        """``call()`` until it does not raise RetryableError; ``None`` if stopped first."""
        attempt = 0
        while True:
            try:
                result = call()
                if attempt:
                    self.reconciler.request(f"{what} works again after a transient failure")
                return result
            except RetryableError as exc:
                self.metrics.fail(reasons.TRANSIENT)
                log.warning("%s: transient failure, retrying (attempt %d): %s", what, attempt + 1, exc)
            if not self._backoff(attempt):
                return None
            attempt += 1

    def _backoff(self, attempt: int) -> bool:
        """Sleep the capped exponential delay (with jitter); False if stop was requested."""
        if self.stopping:
            return False
        delay = min(self.config.retry_max_s, self.config.retry_initial_s * 2**attempt)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
        previous, self.state = self.state, "retrying"
        self.metrics.retrying.set(1)
        deadline = time.monotonic() + delay
        while not self.stopping and time.monotonic() < deadline:
            self._beat()
            self._stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        self.metrics.retrying.set(0)
        self.state = previous
        return not self.stopping

    def _beat(self) -> None:
        self._heartbeat = time.monotonic()
        self.metrics.last_poll.set_to_current_time()
