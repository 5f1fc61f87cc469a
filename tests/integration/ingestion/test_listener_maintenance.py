"""``lakehouse listen --maintain-interval``: maintenance on the reconcile thread of a real embedded listener.

A running listener (local watch, SQLite catalog) compacts its tables while
it keeps loading: a file dropped while a maintenance run is held open is
loaded (the poll thread never waits for it), and after the run the table has
fewer data files, the same rows, and a ledger that still skips every file.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

import listener.reconciler as reconciler
from ingestion import ledger
from ingestion.loader import BronzeLoader
from ingestion.storage import LocalObjectStore
from lakehouse.settings import Settings
from tests.integration.listener.conftest import Bronze, running_listener, sales_csv, wait_for

pytestmark = pytest.mark.integration

FILES = 12


def _data_files(bronze: Bronze) -> int:
    table = bronze.catalog.load_table((bronze.settings.bronze_namespace, "ecoride_sales"))
    return sum(1 for _ in table.scan().plan_files())


def test_periodic_maintenance_compacts_while_the_listener_keeps_loading_and_the_ledger_still_skips_every_file(
        base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    started, release = threading.Event(), threading.Event()
    real = reconciler._maintain_bronze

    def held(config: Any) -> Any:
        run = real(config)

        def hold_then_run() -> list[dict[str, Any]]:
            started.set()
            assert release.wait(120), "the test never released the maintenance run"
            return run()
        return hold_then_run

    monkeypatch.setattr(reconciler, "_maintain_bronze", held)
    landing = settings.landing_dir / "raw" / "ecoride" / "sales"
    bronze = Bronze(settings)
    with running_listener(settings, maintain_interval_s=1.0, max_batch_wait_s=0.1) as listener:
        landing.mkdir(parents=True, exist_ok=True)
        for i in range(FILES):  # one file per batch: one data file each
            (landing / f"sales_{i:02d}.csv").write_bytes(sales_csv(i * 10, 3))
            wait_for(f"file {i}", lambda i=i: listener.totals.files.get("loaded", 0) == i + 1, timeout=60)
        assert _data_files(bronze) == FILES
        assert started.wait(30), "no maintenance run started"

        (landing / "during.csv").write_bytes(sales_csv(500, 4))  # while the maintenance run is held open
        wait_for("the file dropped during maintenance", lambda: listener.totals.files.get("loaded", 0) == FILES + 1,
                 timeout=60)
        assert listener.health()[1]["reconcile"]["maintenance"]["runs"] == 0  # loaded while it was still running

        release.set()
        wait_for("the maintenance run", lambda: listener.health()[1]["reconcile"]["maintenance"]["runs"] >= 1,
                 timeout=120)
        maintenance = listener.health()[1]["reconcile"]["maintenance"]
        assert "last_error" not in maintenance, maintenance
        sales = next(r for r in maintenance["last_reports"] if r["table"].endswith(".ecoride_sales"))
        assert sales["files_rewritten"] == FILES + 1 and sales["data_files_after"] == 1

        (landing / "after.csv").write_bytes(sales_csv(900, 2))  # the listener's own index sees the compaction
        wait_for("the file dropped after maintenance", lambda: listener.totals.files.get("loaded", 0) == FILES + 2,
                 timeout=60)
        assert listener.totals.files.keys() == {"loaded"}

    rows = bronze.rows_per_key("ecoride_sales")
    assert sum(rows.values()) == FILES * 3 + 4 + 2 and len(rows) == FILES + 2
    assert _data_files(bronze) == 2
    ledger.forget_indexes()  # a restart: the index is rebuilt from the compacted table
    store = LocalObjectStore(settings.landing_dir)
    objects = list(store.list("raw/"))
    assert len(objects) == FILES + 2
    assert BronzeLoader(settings, store=store).pending(objects) == []
    assert {o.outcome for o in BronzeLoader(settings, store=store).load(objects)} == {"duplicate"}
