"""The start-up and periodic reconcile, on a thread of its own.

A reconcile pass lists the whole store and may load thousands of files: on the
poll thread it stopped polling for as long, so Kafka's ``max.poll.interval.ms``
could expire (a rebalance, the partitions moved away), new events waited behind
it and ``/healthz`` could not tell. Here the poll thread keeps consuming while a
pass runs, and health and metrics report the pass (running, last duration,
last error).

The pass uses a dispatcher and loader of its own (see ``listener.app``): the
loader is not made for two threads, and two writers to one table are what the
loader already handles between listener instances (commit conflicts re-check
the ledger), so a file that arrives both by event and by reconcile loads once.

The same thread runs the optional periodic maintenance
(``config.maintain_interval_s``, ``lakehouse listen --maintain-interval``):
``ingestion.maintenance.maintain`` with the command's defaults, on a catalog
of its own. It never runs on the poll thread, and it cannot make the ledger
lie: compaction copies the lineage columns and commits a ``replace``
snapshot that the loaders' indexes read like any other commit; a compaction
that races a load fails its commit and is planned again; expiry and orphan
removal only touch what no retained snapshot needs. A failed run is logged and
reported in ``/healthz`` and retried at the next interval.

It also runs the outage catch-up (``config.outage_probe_s``): it asks the
store whether it answers (a HEAD request without retries) every few seconds,
and :meth:`Reconciler.request` is how the poll thread asks for a pass after it
recovered from a transient failure. An object MinIO wrote while it was being
stopped can lose its event (the write and the event are not one transaction),
and so can one written while the broker was down when MinIO keeps no queue
(``LAKEHOUSE_EVENT_DELIVERY=direct``); one pass shortly after the recovery
finds them by listing, instead of the next periodic pass (or never).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ingestion.storage import ObjectStore
from lakehouse import reasons
from lakehouse.errors import RetryableError
from listener.config import ListenerConfig
from listener.dispatcher import Dispatcher, Loader
from listener.metrics import ListenerMetrics
from listener.replay import ReplayReport, reconcile

log = logging.getLogger(__name__)

WAKE_S = 0.5


class Reconciler:
    """Runs a pass at start (``initial``) and then every ``config.replay_interval_s`` until stopped."""

    def __init__(
        self,
        config: ListenerConfig,
        store: ObjectStore,
        loader: Loader,
        dispatcher: Dispatcher,
        metrics: ListenerMetrics,
        *,
        hold: Callable[[str], bool],
        stop: threading.Event,
        on_report: Callable[[ReplayReport], None],
        maintain: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.loader = loader
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.hold = hold
        self.stop = stop
        self.on_report = on_report
        self.maintain = maintain if maintain is not None else _maintain_bronze(config)
        self.caught_up = threading.Event()  # set when the start-up pass ended (or there is none)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running_since: float | None = None
        self._passes = 0
        self._last: dict[str, Any] = {}
        self._maintenance: dict[str, Any] = {"runs": 0}
        self._catch_up_at: float | None = None  # when the requested outage catch-up pass is due
        self._catch_up_why = ""
        self._store_up = True
        self._catch_ups = 0

    # ---- lifecycle ------------------------------------------------------------
    def start(self, *, initial: bool) -> None:
        """Start the thread if there is anything to do; returns at once."""
        if not initial:
            self.caught_up.set()
        if not initial and not self.config.reconciles and self.config.maintain_interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, args=(initial,), name="listener-reconcile", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for a stopped reconciler (it ends after its current chunk); True if it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def request(self, why: str) -> None:
        """Ask for one pass ``config.outage_settle_s`` from now (after an outage ended); thread-safe.

        Requests that arrive before the pass is due join it; without the outage
        catch-up (``outage_probe_s`` 0) this does nothing.
        """
        if self.config.outage_probe_s <= 0:
            return
        with self._lock:
            if self._catch_up_at is not None:
                return
            self._catch_up_at = time.monotonic() + self.config.outage_settle_s
            self._catch_up_why = why
        log.info("reconcile in %.1fs: %s", self.config.outage_settle_s, why)

    def _run(self, initial: bool) -> None:
        try:
            if initial:
                self.run_pass()
                self.caught_up.set()
            c = self.config
            now = time.monotonic()
            never = float("inf")
            next_pass = now + c.replay_interval_s if c.replay_interval_s > 0 else never
            next_maintenance = now + c.maintain_interval_s if c.maintain_interval_s > 0 else never
            next_probe = now + c.outage_probe_s if c.outage_probe_s > 0 else never
            while min(next_pass, next_maintenance, next_probe) < never:
                with self._lock:
                    catch_up = self._catch_up_at if self._catch_up_at is not None else never
                due = min(next_pass, next_maintenance, next_probe, catch_up)
                # Wake at least every WAKE_S: a request() from the poll thread sets a
                # nearer catch-up than the one this wait was computed for.
                if self.stop.wait(min(WAKE_S, max(0.0, due - time.monotonic()))):
                    return
                if time.monotonic() >= next_probe:
                    self._probe()
                    next_probe = time.monotonic() + c.outage_probe_s
                if time.monotonic() >= min(next_pass, catch_up):
                    self._catch_up_pass(catch_up)
                    next_pass = time.monotonic() + c.replay_interval_s if c.replay_interval_s > 0 else never
                if time.monotonic() >= next_maintenance and not self.stop.is_set():
                    self.run_maintenance()
                    next_maintenance = time.monotonic() + c.maintain_interval_s
        finally:
            self.caught_up.set()

    def _probe(self) -> None:
        """Ask the store whether it answers; a failure followed by an answer requests a pass."""
        try:
            up = bool(self.store.reachable())
        except Exception:  # noqa: BLE001 - a probe that cannot tell counts as "down"
            up = False
        if up and not self._store_up:
            self.request("the object store answers again after an outage")
        elif not up and self._store_up:
            log.warning("the object store does not answer; one reconcile pass follows its recovery")
        self._store_up = up

    def _catch_up_pass(self, catch_up: float) -> None:
        """A periodic pass or the requested catch-up (one pass serves both)."""
        if catch_up <= time.monotonic():
            with self._lock:
                self._catch_up_at = None
                why = self._catch_up_why
                self._catch_ups += 1
            log.info("reconcile pass after an outage (%s)", why)
        self.run_pass()

    # ---- maintenance ------------------------------------------------------------
    def run_maintenance(self) -> list[dict[str, Any]] | None:
        """One ``maintain`` run over the bronze tables and the outcome log; never raises."""
        started = time.monotonic()
        reports: list[dict[str, Any]] | None = None
        error: str | None = None
        try:
            reports = self.maintain()
        except Exception as exc:  # noqa: BLE001 - the next interval retries; loads are unaffected
            log.exception("maintenance failed; events keep flowing, the next interval retries")
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._maintenance["runs"] += 1
            self._maintenance["last_duration_s"] = round(time.monotonic() - started, 3)
            self._maintenance["last_finished_at"] = datetime.now(timezone.utc).isoformat()
            if error is not None:
                self._maintenance["last_error"] = error
            else:
                self._maintenance["last_reports"] = reports
        return reports

    # ---- one pass -------------------------------------------------------------
    def run_pass(self) -> ReplayReport | None:
        """One pass, retried in place while the store or catalog is down; never raises."""
        started = time.monotonic()
        with self._lock:
            self._running_since = started
        self.metrics.reconcile_running.set(1)
        report: ReplayReport | None = None
        error: str | None = None
        try:
            report = self._retrying()
        except Exception as exc:  # noqa: BLE001 - a failed pass is retried at the next interval, events keep flowing
            log.exception("reconcile failed; events keep flowing, the next pass retries")
            error = f"{type(exc).__name__}: {exc}"
            self.metrics.reconcile_errors.inc()
        finally:
            self._finished(started, report, error)
        return report

    def _retrying(self) -> ReplayReport | None:
        attempt = 0
        while not self.stop.is_set():
            try:
                return self._once()
            except RetryableError as exc:
                log.warning("reconcile: transient failure, retrying (attempt %d): %s", attempt + 1, exc)
                self.metrics.fail(reasons.TRANSIENT)
                self._note_error(f"{type(exc).__name__}: {exc}")
            delay = min(self.config.retry_max_s, self.config.retry_initial_s * 2**attempt)
            self.stop.wait(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto
            attempt += 1
        return None

    def _once(self) -> ReplayReport:
        c = self.config
        return reconcile(
            self.store, self.loader, self.dispatcher, c.reconcile_prefix,
            max_files=c.max_batch_files, max_bytes=c.max_batch_bytes, hold=self.hold, stop=self.stop.is_set,
        )

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._last["error"] = error
            self._last["error_at"] = datetime.now(timezone.utc).isoformat()
        self.metrics.reconcile_last_error.set_to_current_time()

    def _finished(self, started: float, report: ReplayReport | None, error: str | None) -> None:
        seconds = time.monotonic() - started
        self.metrics.reconcile_running.set(0)
        self.metrics.reconcile_seconds.set(seconds)
        if error is not None:
            self._note_error(error)
        with self._lock:
            self._running_since = None
            self._passes += 1
            self._last["duration_s"] = round(seconds, 3)
            self._last["finished_at"] = datetime.now(timezone.utc).isoformat()
            if report is not None:
                self._last["summary"] = report.summary()
        if report is not None:
            self.metrics.reconcile_passes.inc()
            self.metrics.reconcile_last_success.set_to_current_time()
            self.on_report(report)

    def status(self) -> dict[str, Any]:
        """For /healthz: running (and for how long), passes, the last pass's duration, error and summary."""
        with self._lock:
            since = self._running_since
            return {
                "running": since is not None,
                "running_for_s": round(time.monotonic() - since, 3) if since is not None else None,
                "passes": self._passes,
                "last_duration_s": self._last.get("duration_s"),
                "last_finished_at": self._last.get("finished_at"),
                "last_error": self._last.get("error"),
                "last_error_at": self._last.get("error_at"),
                "last_summary": self._last.get("summary"),
                "maintenance": dict(self._maintenance),
                "store_answers": self._store_up,
                "outage_catch_ups": self._catch_ups,
            }


def _maintain_bronze(config: ListenerConfig) -> Callable[[], list[dict[str, Any]]]:
    """``lakehouse maintain`` with its defaults, on a catalog opened for the run."""
    def run() -> list[dict[str, Any]]:
        from ingestion.catalog import open_catalog  # late: the listener's unit tests run without the stack
        from ingestion.maintenance import maintain

        settings = config.settings
        reports = maintain(open_catalog(settings), settings.bronze_namespace, nessie=settings.mode != "embedded")
        return [r.as_dict() for r in reports]
    return run
