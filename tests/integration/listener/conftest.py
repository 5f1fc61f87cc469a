"""Fixtures for the listener against the real services (and, for watch mode, the embedded stack).

Every Kafka test gets ``listener_settings``: the per-test bucket, namespace and
consumer group of ``isolated_settings``, with the group's offsets set to the
current end of ``minio-events`` before anything is uploaded. So a new group
neither replays the topic's history (other tests' events, ignored but slow)
nor misses an event published before its first rebalance completes.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from minio import Minio

from ingestion.writer import data_commits
from ingestion.catalog import open_catalog
from lakehouse.cli import mc_environment
from lakehouse.services.artifacts import mc_binary
from lakehouse.settings import Settings
from listener.app import build_listener
from listener.config import ListenerConfig
from listener.service import Listener
from tests.ports import free_port

PROJECT = Path(__file__).resolve().parents[3]
SAMPLE = PROJECT / "data" / "sample"


# ---- waiting --------------------------------------------------------------------
def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, describe: Callable[[], Any] | None = None
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` (and ``describe()``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    detail = describe() if describe is not None else last
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {detail!r})")


# ---- Kafka ----------------------------------------------------------------------
def end_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        return consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        consumer.close()


def position_group_at_end(settings: Settings) -> None:
    """Commit the events topic's end offsets for ``settings.consumer_group``."""
    ends = end_offsets(settings, settings.events_topic)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group, enable_auto_commit=False)
    try:
        consumer.assign(list(ends))
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()})
    finally:
        consumer.close()


def read_topic(settings: Settings, topic: str, since: dict[TopicPartition, int], timeout: float = 3.0) -> list[Any]:
    """Every record of ``topic`` from the ``since`` offsets until it stays quiet for ``timeout``."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, consumer_timeout_ms=int(timeout * 1000))
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        return list(consumer)
    finally:
        consumer.close()


def dead_letters(settings: Settings, since: dict[TopicPartition, int]) -> list[dict]:
    """This test's dead letters (filtered by bucket: the topic is shared)."""
    letters = [json.loads(r.value) for r in read_topic(settings, settings.dlq_topic, since)]
    return [dl for dl in letters if dl.get("bucket") == settings.bucket]


@contextmanager
def refused_connections_collected() -> Iterator[None]:
    """Close, where they are expected, the sockets kafka-python leaks while the broker is down.

    kafka-python 3.0.12 (``kafka/net/inet.py``, ``connect``) does not close the
    socket of a connection attempt that fails (ECONNREFUSED); the garbage
    collector does, later, with a ResourceWarning. Left to pytest's final
    collection, those warnings fail the whole session (warnings are errors).
    """
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


# ---- Iceberg --------------------------------------------------------------------
class Bronze:
    """Reads this test's bronze tables."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = open_catalog(settings)

    def _table(self, table: str) -> Any:
        identifier = (self.settings.bronze_namespace, table)
        return self.catalog.load_table(identifier) if self.catalog.table_exists(identifier) else None

    def rows_per_key(self, table: str) -> Counter[str]:
        t = self._table(table)
        if t is None:
            return Counter()
        keys = t.scan(selected_fields=("_source_key",)).to_arrow().column("_source_key").to_pylist()
        return Counter(keys)

    def rows_per_version(self, table: str) -> Counter[tuple[str, str]]:
        t = self._table(table)
        if t is None:
            return Counter()
        data = t.scan(selected_fields=("_source_key", "_source_etag")).to_arrow()
        return Counter(zip(data.column("_source_key").to_pylist(), data.column("_source_etag").to_pylist()))

    def commits(self, table: str) -> int:
        """Data commits ever made to ``table`` (see ingestion.writer.data_commits)."""
        t = self._table(table)
        return 0 if t is None else data_commits(t)


# ---- files ----------------------------------------------------------------------
def record_count(name: str, data: bytes) -> int:
    """Records in a landed CSV / JSON / JSON Lines file (gzip-aware): what bronze should hold."""
    if name.endswith(".gz"):
        data, name = gzip.decompress(data), name[:-3]
    text = data.decode("utf-8")
    if name.endswith(".csv"):
        return sum(1 for _ in csv.reader(io.StringIO(text))) - 1
    if name.endswith(".jsonl"):
        return sum(1 for line in text.splitlines() if line.strip())
    parsed = json.loads(text)
    return len(parsed) if isinstance(parsed, list) else 1


def sales_csv(first_id: int, rows: int) -> bytes:
    """A small valid sales file with unique sale ids."""
    header = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state\n"
    body = "".join(
        f"SALE-T{first_id + i:07d},CUST-000001,7FMAURPA{first_id + i:09d},FM-AURORA,2024-01-02,41300.00,0.00,financing,FutureMobility Test,OH\n"
        for i in range(rows)
    )
    return (header + body).encode()


def sample_file(relative: str, fallback: Callable[[], bytes]) -> bytes:
    """A committed sample file, or ``fallback()`` while data/sample is not there."""
    path = SAMPLE / relative
    return path.read_bytes() if path.is_file() else fallback()


def put(s3: Minio, settings: Settings, key: str, data: bytes) -> None:
    s3.put_object(settings.bucket, key, io.BytesIO(data), len(data))


def mc(settings: Settings, *args: str) -> None:
    subprocess.run([str(mc_binary(settings.cache_dir)), "--quiet", *args], env=mc_environment(settings), check=True, capture_output=True)


# ---- listeners ------------------------------------------------------------------
@contextmanager
def running_listener(settings: Settings, **overrides: Any) -> Iterator[Listener]:
    """A listener on a thread of this process (metrics on a free port); stopped and joined on exit."""
    overrides = {"metrics_port": 0, "max_batch_wait_s": 0.25, "retry_max_s": 2.0} | overrides
    config = ListenerConfig.for_settings(settings, **overrides)
    listener, parts = build_listener(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            listener.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=run, name="listener-under-test", daemon=True)
    thread.start()
    try:
        assert listener.ready.wait(60), "listener did not start"
        yield listener
    finally:
        listener.stop()
        thread.join(60)
        parts.close()
        for exc in errors:  # shown even when the test body failed first (then the raise below is skipped)
            traceback.print_exception(exc, file=sys.stderr)
    assert not thread.is_alive(), "listener did not stop"
    if errors:
        raise errors[0]


def wait_for_partitions(listener: Listener, timeout: float = 30.0) -> None:
    """Kafka source: wait until the group gave this listener its partitions."""
    wait_for("partition assignment", lambda: listener.source.status().get("assigned"), timeout)


def listener_env(settings: Settings) -> dict[str, str]:
    """The isolated settings as LAKEHOUSE_* variables, for a listener in another process."""
    return dict(
        os.environ,
        LAKEHOUSE_MODE=settings.mode,
        LAKEHOUSE_STATE_DIR=str(settings.state_dir),
        LAKEHOUSE_BUCKET=settings.bucket,
        LAKEHOUSE_CONSUMER_GROUP=settings.consumer_group,
        LAKEHOUSE_BRONZE_NAMESPACE=settings.bronze_namespace,
        LAKEHOUSE_S3_ENDPOINT=settings.s3_endpoint,
        LAKEHOUSE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        LAKEHOUSE_NESSIE_URI=settings.nessie_uri,
        LAKEHOUSE_EVENT_DELIVERY=settings.event_delivery,
        LAKEHOUSE_LISTENER_CREDENTIALS=settings.listener_credentials,
    )


class ListenerProcess:
    """``python -m listener`` in a subprocess, with its log in ``log_path``."""

    def __init__(self, settings: Settings, log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("ab")
        argv = [sys.executable, "-m", "listener", "--metrics-port", str(self.port), *args]
        self.proc = subprocess.Popen(argv, env=listener_env(settings), cwd=PROJECT, stdout=self._log, stderr=subprocess.STDOUT)

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            return {}

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                if all(f'{k}="{v}"' in line for k, v in labels.items()):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_consuming(self, timeout: float = 60.0) -> dict:
        def assigned() -> dict | None:
            if self.proc.poll() is not None:
                pytest.fail(f"listener exited with {self.proc.returncode}:\n{self.log()}")
            body = self.health()
            return body if body.get("state") == "running" and body.get("assigned") else None

        return wait_for("the listener to consume", assigned, timeout)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()


@pytest.fixture
def listener_settings(isolated_settings: Settings) -> Settings:
    position_group_at_end(isolated_settings)
    return isolated_settings


@pytest.fixture
def bronze(listener_settings: Settings) -> Bronze:
    return Bronze(listener_settings)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., ListenerProcess]]:
    """Start listener subprocesses; all are killed at the end of the test."""
    started: list[ListenerProcess] = []

    def start(settings: Settings, *args: str) -> ListenerProcess:
        proc = ListenerProcess(settings, tmp_path / f"listener-{len(started)}.log", *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


@pytest.fixture
def embedded_settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Embedded mode in a private state folder: landing folder, SQLite catalog, file dead letters."""
    return dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
