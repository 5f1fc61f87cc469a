"""The fault suite's own stack and its accounting (issue 9: `pytest -m faults`).

The suite stops and restarts the broker, Nessie and MinIO, and floods the events
topic with garbage, so it never touches the shared services: ``fault_stack``
starts a second MinIO + Kafka + Nessie with the project's ``ServiceManager``
on free ports and a state folder of its own, once per session, and stops it at
the end. Each scenario then gets a bucket, bronze namespace and consumer group
of its own on that stack (``fault_settings``).

Accounting is per uploaded file, against the file itself: its rows are in
bronze exactly once (counted per ``_source_key`` and etag), or it is in
quarantine with a reason from :mod:`lakehouse.reasons`; anything else is
``lost`` (neither) or ``duplicated`` (more rows than the file has, or rows
from two loads).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from lakehouse import reasons
from lakehouse.errors import LakehouseError
from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import MinioService, minio_client
from lakehouse.settings import Settings
from tests.conftest import running_in_ci
from tests.integration.listener.conftest import Bronze, position_group_at_end, record_count
from tests.ports import private_stack_settings

PROJECT = Path(__file__).resolve().parents[3]
SAMPLE = PROJECT / "data" / "sample" / "raw"

# Knobs for a bigger (or quicker) run: LAKEHOUSE_FAULTS_FILES=2000, LAKEHOUSE_FAULTS_HUGE_MB=10.
BURST_FILES = int(os.environ.get("LAKEHOUSE_FAULTS_FILES", "500"))
OUTAGE_FILES = int(os.environ.get("LAKEHOUSE_FAULTS_OUTAGE_FILES", "150"))
HUGE_LINE_MB = int(os.environ.get("LAKEHOUSE_FAULTS_HUGE_MB", "100"))
SEED = int(os.environ.get("LAKEHOUSE_FAULTS_SEED", str(int(time.time()) % 100_000)))

FIGURES: list[dict[str, object]] = []  # one line per scenario, printed at the end of the session


@pytest.fixture(scope="session")
def fault_stack(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceManager]:
    """A second native stack (its own ports and state folder), up for the whole session."""
    settings = private_stack_settings(base_settings, tmp_path_factory.mktemp("fault-stack") / ".lakehouse",
                                      consumer_group="lakehouse-listener")
    manager = ServiceManager(settings)
    started = time.monotonic()
    try:
        statuses = manager.up()
    except LakehouseError as exc:
        manager.down()
        _unavailable(f"the fault stack did not start: {exc}")
    if not all(s.healthy for s in statuses):
        manager.down()
        _unavailable(f"the fault stack is not healthy: {statuses}")
    FIGURES.append({"scenario": "fault stack up", "seconds": round(time.monotonic() - started, 1)})
    try:
        yield manager
    finally:
        manager.down()


@pytest.fixture(scope="session", autouse=True)
def fault_figures() -> Iterator[None]:
    """Print every scenario's figures once the suite ends (run with -s, or see the captured output)."""
    started = time.monotonic()
    yield
    FIGURES.append({"scenario": "whole fault suite", "seconds": round(time.monotonic() - started, 1)})
    _print_figures()


def _unavailable(reason: str) -> None:
    if running_in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _print_figures() -> None:
    if not FIGURES:
        return
    lines = [f"\nFAULT SUITE (seed {SEED}):"]
    for f in FIGURES:
        lines.append("  " + "  ".join(f"{k}={v}" for k, v in f.items()))
    print("\n".join(lines))


@pytest.fixture
def fault_settings(fault_stack: ServiceManager, unique_suffix: str) -> Settings:
    """A bucket, bronze namespace and consumer group of this scenario's own, on the fault stack."""
    settings = dataclasses.replace(
        fault_stack.settings,
        bucket=f"faults-{unique_suffix}",
        bronze_namespace=f"faults_{unique_suffix}",
        consumer_group=f"faults-{unique_suffix}",
    )
    MinioService(settings).configure()
    position_group_at_end(settings)
    return settings


# ---- uploads ----------------------------------------------------------------------
def put_retrying(client: Minio, settings: Settings, key: str, data: bytes, deadline_s: float = 180.0) -> None:
    """PUT until it succeeds: a user's upload tool retries while MinIO is down (a retried
    PUT of the same bytes is the same object version, so it cannot double a file)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            client.put_object(settings.bucket, key, io.BytesIO(data), len(data))
            return
        except (S3Error, HTTPError, OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def upload_all(settings: Settings, files: Mapping[str, bytes], workers: int = 8,
               between: Callable[[int], None] | None = None) -> None:
    """Upload ``files`` with ``workers`` threads; ``between(n)`` is called after the n-th upload."""
    client = minio_client(settings)
    done = 0

    def one(item: tuple[str, bytes]) -> None:
        nonlocal done
        put_retrying(client, settings, *item)
        done += 1
        if between is not None:
            between(done)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, files.items()))


# ---- accounting -------------------------------------------------------------------
@dataclass
class Accounting:
    """Where every uploaded file ended, against the file itself."""

    expected: dict[str, int]  # key -> records in the file
    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, dict] = field(default_factory=dict)  # key -> the .error.json report
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # partly loaded, or loaded AND quarantined

    @property
    def settled(self) -> bool:
        return not self.lost and not self.duplicated and not self.wrong

    def figures(self) -> dict[str, int]:
        return {"files": len(self.expected), "loaded": len(self.loaded), "quarantined": len(self.quarantined),
                "lost": len(self.lost), "duplicated": len(self.duplicated), "wrong": len(self.wrong)}

    def explain(self, *logs: tuple[str, str]) -> str:
        """A short failure report: the counts, a few keys of each kind, and the tails of ``logs``
        ((title, text) pairs) — not hundreds of keys that push the cause out of CI's output."""
        lines = [str(self.figures())]
        for kind in ("lost", "duplicated", "wrong"):
            keys = sorted(getattr(self, kind))
            if keys:
                lines.append(f"{kind}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}")
        for title, text in logs:
            lines.append(f"--- {title} (tail) ---\n{text[-3000:]}")
        return "\n".join(lines)


def account(expected: Mapping[str, int], rows: Mapping[tuple[str, str], int], reports: Mapping[str, dict]) -> Accounting:
    """Compare bronze rows per (key, etag) and quarantine reports with what each file holds."""
    result = Accounting(expected=dict(expected))
    per_key: dict[str, list[int]] = {}
    for (key, _etag), count in rows.items():
        per_key.setdefault(key, []).append(count)
    for key, want in expected.items():
        loads, report = per_key.get(key, []), reports.get(key)
        if report is not None and not loads:
            result.quarantined[key] = report
        elif loads and report is None and len(loads) == 1 and loads[0] == want:
            result.loaded[key] = loads[0]
        elif not loads and report is None:
            result.lost.append(key)
        elif len(loads) > 1 or sum(loads) > want:
            result.duplicated.append(key)
        else:
            result.wrong.append(key)
    return result


def bronze_rows(settings: Settings, tables: set[str]) -> dict[tuple[str, str], int]:
    bronze = Bronze(settings)
    rows: dict[tuple[str, str], int] = {}
    for table in tables:
        rows.update(bronze.rows_per_version(table))
    return rows


def bucket_reports(settings: Settings) -> dict[str, dict]:
    """``key -> .error.json`` of every quarantined object of the bucket."""
    client = minio_client(settings)
    reports = {}
    for obj in client.list_objects(settings.bucket, prefix=settings.quarantine_prefix, recursive=True):
        if obj.object_name.endswith(".error.json"):
            response = client.get_object(settings.bucket, obj.object_name)
            try:
                report = json.loads(response.read())
            finally:
                response.close()
                response.release_conn()
            reports[report["key"]] = report
    return reports


def folder_reports(settings: Settings) -> dict[str, dict]:
    root = settings.landing_dir / settings.quarantine_prefix
    reports = {}
    for path in root.rglob("*.error.json") if root.is_dir() else ():
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[report["key"]] = report
    return reports


def assert_vocabulary(result: Accounting) -> None:
    unknown = {k: r.get("reason") for k, r in result.quarantined.items() if r.get("reason") not in reasons.REASONS}
    assert not unknown, f"quarantine reasons outside lakehouse/reasons.py: {unknown}"


def expected_records(files: Mapping[str, bytes]) -> dict[str, int]:
    return {key: record_count(key, data) for key, data in files.items()}


def sample_files() -> dict[str, bytes]:
    """One good file of every tabular dataset, from the committed sample, under a ``faults/`` folder."""
    picks = [
        "ecoride/sales/sales_2023-01.csv", "ecoride/customers", "ecoride/vehicles",
        "ecoride/reviews/reviews_2023-Q1.json", "ecoride/reviews/reviews_2023-Q2.jsonl",
        "chargenet/stations/stations.json", "chargenet/sessions/sessions_2024-01-08.jsonl",
        "chargenet/sessions/sessions_2024-03-04.jsonl.gz", "vehicle_health",
    ]
    files = {}
    for pick in picks:
        path = SAMPLE / pick
        if path.is_dir():
            path = sorted(p for p in path.rglob("*") if p.is_file())[0]
        relative = path.relative_to(SAMPLE)
        files[f"raw/{relative.parent.as_posix()}/faults/{relative.name}"] = path.read_bytes()
    return files


def burst(folder: str, count: int, rows: int = 3, first: int = 0) -> dict[str, bytes]:
    """``count`` small valid sales files (unique sale ids) under ``raw/ecoride/sales/<folder>/``."""
    from tests.integration.listener.conftest import sales_csv

    return {f"raw/ecoride/sales/{folder}/f{i:04d}.csv": sales_csv(i * 100, rows) for i in range(first, first + count)}


def paced_upload(settings: Settings, files: Mapping[str, bytes], seconds: float, workers: int = 4,
                 between: Callable[[int], None] | None = None) -> threading.Thread:
    """Upload ``files`` spread over about ``seconds`` on a background thread (started; join it)."""
    pause = seconds * workers / max(1, len(files))

    def paced(n: int) -> None:
        if between is not None:
            between(n)
        time.sleep(pause)

    thread = threading.Thread(target=upload_all, args=(settings, files, workers, paced), name="burst-upload", daemon=True)
    thread.start()
    return thread


def sales_accounting(settings: Settings, files: Mapping[str, bytes]) -> Accounting | None:
    """The accounting of a burst of sales files, or ``None`` while a service is down."""
    try:
        rows = Bronze(settings).rows_per_version("ecoride_sales")
        reports = bucket_reports(settings)
    except Exception:  # noqa: BLE001 - the catalog or MinIO is down on purpose: look again later
        return None
    return account(expected_records(files), rows, reports)


def wait_burst(settings: Settings, files: Mapping[str, bytes], alive: Callable[[], bool], timeout: float,
               cap: float = 1200.0) -> Accounting:
    """Poll until every file of the burst is accounted for, the listener died, or nothing settled
    for ``timeout`` seconds (a slow but steady listener on a busy machine is given up to ``cap``)."""
    started = time.monotonic()
    deadline = started + timeout
    last: Accounting | None = None
    settled = -1
    while time.monotonic() < min(deadline, started + cap) and alive():
        last = sales_accounting(settings, files) or last
        if last is not None and not last.lost:
            return last
        if last is not None and len(files) - len(last.lost) > settled:  # progress: wait on
            settled = len(files) - len(last.lost)
            deadline = time.monotonic() + timeout
        time.sleep(1.0)
    final = sales_accounting(settings, files) or last
    assert final is not None, "bronze could not be read at the end"
    return final
