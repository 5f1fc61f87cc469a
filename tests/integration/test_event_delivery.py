"""LAKEHOUSE_EVENT_DELIVERY on a real MinIO + Kafka: both modes deliver, and each covers a broker outage its own way.

``queued``: MinIO keeps the events in its on-disk queue while the broker is
down and sends them when it returns. ``direct``: MinIO sends at once and
drops what the broker cannot take; the listener's periodic reconcile loads
those files. Runs on a private stack (tests.benchmarks.stack) because it
restarts MinIO with other settings and stops the broker.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from lakehouse.errors import LakehouseError
from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import minio_client
from lakehouse.settings import Settings
from tests.benchmarks.bench_freshness import TABLE, sales_csv, wait_for_keys
from tests.benchmarks.stack import listeners, private_stack, scenario, switch_delivery, table_facts
from tests.benchmarks.suite import warm_up
from tests.conftest import running_in_ci

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def stack(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceManager]]:
    """The private stack; tests replace ``stack["manager"]`` when they switch the delivery."""
    with ExitStack() as exits:
        try:
            manager = exits.enter_context(private_stack(base_settings, tmp_path_factory.mktemp("delivery")))
        except (LakehouseError, RuntimeError) as exc:
            if running_in_ci():
                pytest.fail(f"the private stack did not start: {exc}", pytrace=False)
            pytest.skip(f"the private stack did not start: {exc}")
        yield {"manager": manager}


def _minio_environment(manager: ServiceManager) -> str:
    pid = manager.services["minio"].process.read_pid()
    assert pid is not None, "MinIO is not running"
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")


ROWS = 3  # per uploaded file


def _upload(settings: Settings, names: list[str]) -> set[str]:
    client = minio_client(settings)
    keys = set()
    for name in names:
        key, data = f"raw/ecoride/sales/delivery/{name}.csv", sales_csv(name, ROWS)
        client.put_object(settings.bucket, key, io.BytesIO(data), len(data))
        keys.add(key)
    return keys


@pytest.mark.parametrize("delivery", ["queued", "direct"])
def test_each_delivery_mode_brings_every_upload_to_bronze_through_its_event(
    stack: dict[str, ServiceManager], delivery: str, tmp_path: Path
) -> None:
    manager = stack["manager"] = switch_delivery(stack["manager"], delivery)
    assert ("MINIO_NOTIFY_KAFKA_QUEUE_DIR_" in _minio_environment(manager)) is (delivery == "queued")
    settings = scenario(manager.settings, f"deliver-{delivery}")
    # No periodic reconcile: only events can bring the files.
    with listeners(settings, 1, tmp_path, "--replay-interval", "0"):
        warm_up(settings)  # MinIO's producer is connected (direct drops the events of its first moments)
        rows = table_facts(settings, TABLE)[0] + 5 * ROWS
        keys = _upload(settings, [f"{delivery}{n}" for n in range(5)])
        committed = wait_for_keys(settings, keys, timeout=45.0, rows=rows)
    assert committed.keys() == keys


@pytest.mark.parametrize("delivery", ["queued", "direct"])
def test_a_file_uploaded_while_the_broker_is_down_reaches_bronze(
    stack: dict[str, ServiceManager], delivery: str, tmp_path: Path
) -> None:
    """queued: by MinIO's replayed event; direct: by the listener's periodic reconcile."""
    manager = stack["manager"] = switch_delivery(stack["manager"], delivery)
    settings = scenario(manager.settings, f"outage-{delivery}")
    interval = "0" if delivery == "queued" else "5"  # queued must not need the reconcile
    with listeners(settings, 1, tmp_path, "--replay-interval", interval):
        warm_up(settings)
        rows = table_facts(settings, TABLE)[0] + ROWS
        manager.down(["kafka"])
        try:
            keys = _upload(settings, [f"outage-{delivery}"])
            time.sleep(2)
        finally:
            manager.up(["kafka"])
        committed = wait_for_keys(settings, keys, timeout=90.0, rows=rows)
    assert committed.keys() == keys
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    reconciled = "'loaded': 1" in logs
    assert reconciled is (delivery == "direct"), logs[-3000:]
