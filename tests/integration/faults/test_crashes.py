"""(c) kill -9 at random moments during a burst, and each service stopped mid-burst: 0 lost, 0 duplicated."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from lakehouse.services.manager import ServiceManager
from lakehouse.settings import Settings
from tests.integration.faults.conftest import (
    BURST_FILES,
    FIGURES,
    OUTAGE_FILES,
    SEED,
    burst,
    paced_upload,
    sales_accounting,
    wait_burst,
)
from tests.integration.listener.conftest import ListenerProcess, refused_connections_collected

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILLS = 5
# A dead member holds its partitions until its session times out: keep that short (the broker's minimum).
LISTENER_ARGS = ("--max-batch-files", "50", "--session-timeout-ms", "6000", "--retry-max", "2")


def test_kill_9_of_the_listener_five_times_at_random_moments_of_a_burst_loses_and_duplicates_nothing(
    fault_settings: Settings, tmp_path: Path
) -> None:
    settings, rng = fault_settings, random.Random(SEED)
    files = burst("kill9", BURST_FILES)
    started = time.monotonic()
    procs = [ListenerProcess(settings, tmp_path / "listener-0.log", *LISTENER_ARGS)]
    try:
        procs[-1].wait_consuming()
        uploader = paced_upload(settings, files, seconds=30)
        at_kills = []
        for i in range(KILLS):
            time.sleep(rng.uniform(0.5, 4.0))
            procs[-1].kill9()
            now = sales_accounting(settings, files)
            at_kills.append(len(now.loaded) if now else -1)
            procs.append(ListenerProcess(settings, tmp_path / f"listener-{i + 1}.log", *LISTENER_ARGS))
            procs[-1].wait_consuming(timeout=90)
        uploader.join(120)
        result = wait_burst(settings, files, lambda: procs[-1].proc.poll() is None, timeout=180)
        alive = procs[-1].proc.poll() is None
        FIGURES.append({"scenario": "kill -9 x5 during a burst", **result.figures(), "in_bronze_at_kills": at_kills,
                        "listener_alive": alive, "seconds": round(time.monotonic() - started, 1)})
        assert alive, procs[-1].log()
        assert result.settled, result.explain(("last listener log", procs[-1].log()))
        assert len(result.loaded) == len(files)
        assert any(0 <= n < len(files) for n in at_kills), f"no kill came while files were in flight: {at_kills}"
    finally:
        for proc in procs:
            proc.close()


@pytest.mark.parametrize("service", ["kafka", "nessie", "minio"])
def test_a_service_stopped_and_restarted_mid_burst_loses_and_duplicates_nothing(
    service: str, fault_settings: Settings, fault_stack: ServiceManager, tmp_path: Path
) -> None:
    settings = fault_settings
    files = burst(f"outage-{service}", OUTAGE_FILES)
    started = time.monotonic()
    proc = ListenerProcess(settings, tmp_path / "listener.log", *LISTENER_ARGS)
    try:
        proc.wait_consuming()
        third = threading.Event()
        uploader = paced_upload(settings, files, seconds=15, between=lambda n: third.set() if n >= len(files) // 3 else None)
        assert third.wait(60), "the burst did not start"
        with refused_connections_collected():
            down_at = time.monotonic()
            fault_stack.down([service])
            time.sleep(3)  # uploads and loads meet the outage
            fault_stack.up([service])
            outage = time.monotonic() - down_at
        uploader.join(240)
        result = wait_burst(settings, files, lambda: proc.proc.poll() is None, timeout=180)
        alive = proc.proc.poll() is None
        FIGURES.append({"scenario": f"{service} stopped mid-burst", **result.figures(), "outage_s": round(outage, 1),
                        "listener_alive": alive, "seconds": round(time.monotonic() - started, 1)})
        assert alive, proc.log()
        assert result.settled, result.explain(("listener log", proc.log()),
                                              (f"{service} log", fault_stack.services[service].process.log_tail(30)))
        assert len(result.loaded) == len(files)
    finally:
        proc.close()
