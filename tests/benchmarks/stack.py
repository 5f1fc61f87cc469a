"""The benchmark's own native stack, its listeners and where commit times come from.

The suite never touches the shared services' configuration: it starts a second
Kafka + MinIO + Nessie with the project's ``ServiceManager`` on free ports and
a state folder of its own (as the fault suite does), with enough topic
partitions for four listener instances, and restarts only its MinIO to switch
``event_delivery`` between ``queued`` and ``direct``.

Commit times are read after the fact, so no polling disturbs what is
measured: the manifests name the snapshot that added each source file, and
Nessie's commit log says when (server clock, same machine) that snapshot was
committed, i.e. from when a reader sees the rows.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ingestion.catalog import open_catalog
from ingestion.schema import SOURCE_KEY
from ingestion.writer import data_commits
from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import MinioService
from lakehouse.settings import Settings
from tests.integration.listener.conftest import listener_env
from tests.ports import free_ports, private_stack_settings

PROJECT = Path(__file__).resolve().parents[2]
PARTITIONS = 4  # the most listener instances the scale curve runs


@contextmanager
def private_stack(base: Settings, workdir: Path, delivery: str = "queued") -> Iterator[ServiceManager]:
    """A second native stack on free ports (state under ``workdir``), stopped on exit."""
    settings = private_stack_settings(base, workdir / ".lakehouse", event_delivery=delivery,
                                      topic_partitions=PARTITIONS, listener_credentials="admin")
    manager = ServiceManager(settings)
    try:
        statuses = manager.up()
        if not all(s.healthy for s in statuses):
            raise RuntimeError(f"the benchmark stack is not healthy: {statuses}")
        yield manager
    finally:
        manager.down()


def switch_delivery(manager: ServiceManager, delivery: str) -> ServiceManager:
    """Restart the stack's MinIO with ``event_delivery=delivery``; the manager to use from now on."""
    if manager.settings.event_delivery == delivery:
        return manager
    manager.down(["minio"])
    switched = ServiceManager(dataclasses.replace(manager.settings, event_delivery=delivery))
    switched.up(["minio"])
    return switched


def scenario(settings: Settings, name: str) -> Settings:
    """A bucket, bronze namespace and consumer group of this scenario's own (events filtered by bucket)."""
    suffix = f"{name}-{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    scoped = dataclasses.replace(settings, bucket=f"bench-{suffix}", bronze_namespace=f"bench_{suffix}".replace("-", "_"),
                                 consumer_group=f"bench-{suffix}")
    MinioService(scoped).configure(users=False)
    return scoped


# ---- listeners ----------------------------------------------------------------------
def _health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


@contextmanager
def listeners(settings: Settings, count: int, logdir: Path, *args: str, timeout: float = 90.0) -> Iterator[list[subprocess.Popen]]:
    """``count`` ``python -m listener`` processes in one consumer group, consuming when yielded.

    The group starts at the topic's end (``--auto-offset-reset latest`` on a new
    group): other scenarios' events are not replayed. Processes are stopped
    with SIGTERM (a graceful drain) on exit. ``args`` go to each listener's command line.
    """
    logdir.mkdir(parents=True, exist_ok=True)
    ports = free_ports(count)
    procs: list[subprocess.Popen] = []
    try:
        for index, port in enumerate(ports):
            log = (logdir / f"{settings.consumer_group}-{index}.log").open("ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "listener", "--metrics-port", str(port), "--auto-offset-reset", "latest", *args],
                env=listener_env(settings), cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
            ))
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            bodies = [_health(port) for port in ports]
            assigned = [len(b.get("assigned") or ()) for b in bodies]
            if all(b.get("state") == "running" for b in bodies) and sum(assigned) == PARTITIONS and all(assigned):
                break
            dead = [p.args for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"listeners not consuming (assigned {assigned}, exited {dead}); logs in {logdir}")
            time.sleep(0.3)
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


# ---- Iceberg ------------------------------------------------------------------------
def nessie_commit_times(settings: Settings, table_name: str, max_commits: int = 20_000) -> dict[int, float]:
    """``snapshot id -> epoch seconds`` of the Nessie commits of one table, newest first.

    Nessie's REST catalog hands out only the current snapshot (so older
    snapshots' own timestamps are gone, projectnessie/nessie#10033); its commit
    log keeps every commit, with the server's commit time and the snapshot id.
    """
    want = [settings.bronze_namespace, table_name]
    times: dict[int, float] = {}
    token, seen = "", 0
    while seen < max_commits:
        url = f"{settings.nessie_uri}/api/v2/trees/{settings.nessie_branch}/history?fetch=ALL&max-records=500"
        with urllib.request.urlopen(url + (f"&page-token={token}" if token else ""), timeout=30) as response:
            page = json.loads(response.read())
        for entry in page.get("logEntries") or ():
            seen += 1
            when = datetime.fromisoformat(entry["commitMeta"]["commitTime"].replace("Z", "+00:00")).timestamp()
            for op in entry.get("operations") or ():
                content = op.get("content") or {}
                if op.get("type") == "PUT" and op["key"]["elements"] == want and "snapshotId" in content:
                    times.setdefault(int(content["snapshotId"]), when)
        token = page.get("token") or ""
        if not page.get("hasMore") or not token:
            break
    return times


def commit_times(settings: Settings, table_name: str) -> dict[str, float]:
    """``source key -> epoch seconds`` of the Nessie commit that added its rows.

    Each data file the loaders write holds one source file, named by equal full
    lower/upper bounds of ``_source_key``; its manifest entry keeps the id of
    the snapshot that added it (also after manifests are merged).
    """
    catalog = open_catalog(settings)
    identifier = (settings.bronze_namespace, table_name)
    if not catalog.table_exists(identifier):
        return {}
    table = catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    if snapshot is None:
        return {}
    key_id = table.schema().find_field(SOURCE_KEY).field_id
    stamps = nessie_commit_times(settings, table_name)
    times: dict[str, float] = {}
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            lower = (entry.data_file.lower_bounds or {}).get(key_id)
            if lower is None or lower != (entry.data_file.upper_bounds or {}).get(key_id):
                continue
            when = stamps.get(entry.snapshot_id or -1)
            if when is not None:
                key = lower.decode("utf-8")
                times[key] = min(when, times.get(key, when))
    return times


def table_facts(settings: Settings, table_name: str) -> tuple[int, int]:
    """``(rows, data commits)`` of a bronze table (0, 0 if it does not exist)."""
    catalog = open_catalog(settings)
    identifier = (settings.bronze_namespace, table_name)
    if not catalog.table_exists(identifier):
        return 0, 0
    table = catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    rows = int((snapshot.summary or {}).get("total-records", 0)) if snapshot is not None else 0
    return rows, data_commits(table)
