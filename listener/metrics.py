"""Prometheus metrics and a health endpoint, one registry per listener instance.

A per-instance ``CollectorRegistry`` (not the global default) lets tests and
embedding code run several listeners in one process. The HTTP server is the
standard library's, on a daemon thread: ``GET /metrics`` (Prometheus text
format) and ``GET /healthz`` (JSON; 503 when the loop has stalled or stopped).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from lakehouse import reasons

log = logging.getLogger(__name__)

PREFIX = "lakehouse_listener"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class ListenerMetrics:
    """Every metric the listener exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.events = Counter(f"{PREFIX}_events", "Notification records received, by kind", ["kind"], registry=r)
        self.ignored = Counter(f"{PREFIX}_events_ignored", "Records left alone, by reason", ["reason"], registry=r)
        self.files = Counter(f"{PREFIX}_files", "Files handled, by table and outcome", ["table", "outcome"], registry=r)
        self.rows = Counter(f"{PREFIX}_rows_loaded", "Rows appended to bronze", ["table"], registry=r)
        self.failures = Counter(f"{PREFIX}_failures", "Failures, by reason (permanent ones per file)", ["reason"], registry=r)
        self.batches = Counter(f"{PREFIX}_batches", "Batches loaded", registry=r)
        self.commits = Counter(f"{PREFIX}_offset_commits", "Offset commits, by result", ["result"], registry=r)
        self.batch_seconds = Histogram(
            f"{PREFIX}_batch_duration_seconds", "Time to load one batch (stat, load, dead letters)", buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_files = Histogram(
            f"{PREFIX}_batch_files", "Files per batch", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=r
        )
        self.file_latency = Histogram(
            f"{PREFIX}_file_latency_seconds", "From the object's event time until it is in bronze", buckets=LATENCY_BUCKETS, registry=r
        )
        self.delivery_latency = Histogram(
            f"{PREFIX}_delivery_latency_seconds",
            "From the broker receiving the event until its batch is in bronze (the listener's share of the latency)",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.lag = Gauge(f"{PREFIX}_consumer_lag", "Events not yet polled, per partition", ["partition"], registry=r)
        self.retrying = Gauge(f"{PREFIX}_retrying", "1 while a transient failure is being retried", registry=r)
        self.last_poll = Gauge(f"{PREFIX}_last_poll_timestamp_seconds", "When the loop last polled", registry=r)
        # The reconcile pass runs beside the poll loop (listener/reconciler.py).
        self.reconcile_running = Gauge(f"{PREFIX}_reconcile_running", "1 while a reconcile pass runs", registry=r)
        self.reconcile_seconds = Gauge(f"{PREFIX}_reconcile_last_duration_seconds", "Duration of the last reconcile pass", registry=r)
        self.reconcile_passes = Counter(f"{PREFIX}_reconcile_passes", "Reconcile passes that ended with a report", registry=r)
        self.reconcile_errors = Counter(f"{PREFIX}_reconcile_errors", "Reconcile passes aborted by an error", registry=r)
        self.reconcile_last_success = Gauge(
            f"{PREFIX}_reconcile_last_success_timestamp_seconds", "When a reconcile pass last ended with a report", registry=r
        )
        self.reconcile_last_error = Gauge(
            f"{PREFIX}_reconcile_last_error_timestamp_seconds", "When a reconcile pass last met an error (transient included)", registry=r
        )

    def fail(self, reason: str, count: int = 1) -> None:
        """Count a failure under its vocabulary name (``ValueError`` for a name not in lakehouse/reasons.py)."""
        self.failures.labels(reason=reasons.check(reason)).inc(count)

    def set_lag(self, lag: dict[str, int]) -> None:
        for partition, value in lag.items():
            self.lag.labels(partition=partition).set(value)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 if absent); for tests and the CLI summary."""
        found = self.registry.get_sample_value(name, labels)
        return float(found) if found is not None else 0.0


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(self, metrics: ListenerMetrics, health: Callable[[], tuple[bool, dict[str, Any]]], host: str, port: int) -> None:
        handler = _handler(metrics, health)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.host = host
        self._thread = threading.Thread(target=self.server.serve_forever, name="listener-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _handler(metrics: ListenerMetrics, health: Callable[[], tuple[bool, dict[str, Any]]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            elif path == "/healthz":
                ok, body = health()
                self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
            else:
                self._send(404, "text/plain", b"try /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
            log.debug("metrics endpoint: " + format, *args)

    return Handler
