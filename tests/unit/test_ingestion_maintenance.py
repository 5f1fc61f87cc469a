"""``lakehouse maintain`` on the embedded catalog: fewer files, same rows, same ledger, no orphans."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from lakehouse.settings import Settings
from ingestion import ledger
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.maintenance import MaintenanceOptions, maintain
from ingestion.storage import LocalObjectStore

CSV = "sale_id,sale_date\nS{n},2024-01-{d:02d}\n"


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    return settings


def test_maintain_expires_snapshots_and_removes_only_unreferenced_files(settings: Settings) -> None:
    store = LocalObjectStore(settings.landing_dir)
    objects = []
    for n in range(8):
        store.put_bytes(f"raw/ecoride/sales/s{n}.csv", CSV.format(n=n, d=1 + n).encode())
        objects.append(store.stat(f"raw/ecoride/sales/s{n}.csv"))
        BronzeLoader(settings, store=store).load(objects[-1:])
    catalog = open_catalog(settings)
    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    before = table.scan().to_arrow().sort_by("_source_key")
    orphan = Path(table.location().removeprefix("file://")) / "data" / "crashed-writer.parquet"
    orphan.write_bytes(b"PAR1 left by a crash")
    os.utime(orphan, (time.time() - 7200, time.time() - 7200))

    [report] = maintain(catalog, settings.bronze_namespace, table="ecoride_sales", options=MaintenanceOptions(
        retain_last=1, expire_older_than=timedelta(0), orphan_older_than=timedelta(hours=1)))

    assert (report.data_files_before, report.data_files_after) == (8, 1)
    assert report.snapshots_expired >= 8 and not orphan.exists()
    assert report.orphans_removed == 1  # the compacted-away files are younger than the cutoff: kept for readers
    data = Path(table.location().removeprefix("file://")) / "data"
    assert len(list(data.rglob("*.parquet"))) == 9
    [later] = maintain(catalog, settings.bronze_namespace, table="ecoride_sales", options=MaintenanceOptions(
        orphan_older_than=timedelta(0)))
    assert later.orphans_removed >= 8 and len(list(data.rglob("*.parquet"))) == 1
    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().sort_by("_source_key").equals(before)  # every remaining file is there
    ledger.forget_indexes()
    assert BronzeLoader(settings, store=store).pending(objects) == []


def test_maintain_leaves_files_younger_than_the_cutoff(settings: Settings) -> None:
    store = LocalObjectStore(settings.landing_dir)
    store.put_bytes("raw/ecoride/sales/s.csv", CSV.format(n=1, d=1).encode())
    BronzeLoader(settings, store=store).load([store.stat("raw/ecoride/sales/s.csv")])
    catalog = open_catalog(settings)
    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    in_flight = Path(table.location().removeprefix("file://")) / "data" / "being-written.parquet"
    in_flight.write_bytes(b"PAR1")

    [report] = maintain(catalog, settings.bronze_namespace, table="ecoride_sales")

    assert in_flight.exists() and report.orphans_removed == 0


def test_expiry_caps_young_snapshots_but_keeps_what_a_reader_planned_before_a_compaction_needs(
        settings: Settings) -> None:
    store = LocalObjectStore(settings.landing_dir)
    catalog = open_catalog(settings)
    objects = []

    def load(n: int) -> None:
        key = f"raw/ecoride/sales/s{n:02d}.csv"
        store.put_bytes(key, CSV.format(n=n, d=1 + n % 28).encode())
        objects.append(store.stat(key))
        BronzeLoader(settings, store=store).load(objects[-1:])

    young = MaintenanceOptions(orphan_older_than=timedelta(0), max_snapshots=5)  # every snapshot is young
    for n in range(8):
        load(n)
    maintain(catalog, settings.bronze_namespace, table="ecoride_sales", options=young)  # compaction R1
    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    before_compaction = table.current_snapshot().parent_snapshot_id  # A8: what a reader planned before R1 saw
    for n in range(8, 16):
        load(n)
    [report] = maintain(catalog, settings.bronze_namespace, table="ecoride_sales", options=young)  # R2, then expiry

    table = catalog.load_table((settings.bronze_namespace, "ecoride_sales"))
    snapshots = {s.snapshot_id for s in table.snapshots()}
    assert len(snapshots) == 6 and before_compaction in snapshots  # the newest 5, and R1's parent
    assert report.snapshots_expired == 5 + 8 + 1 - 6  # the first run left 5 (A5..A8, R1), capped again
    old_view = table.scan(snapshot_id=before_compaction).to_arrow()  # its files survived orphan removal
    assert sorted(old_view.column("_source_key").to_pylist()) == sorted(o.key for o in objects[:8])
    assert table.scan().to_arrow().num_rows == 16
    ledger.forget_indexes()
    assert BronzeLoader(settings, store=store).pending(objects) == []
