"""A loaded sample and dbt builds on it, once per session per backend.

The sample is loaded with the project's own ``BronzeLoader`` (as the listener
would) into a temporary state dir (embedded: SQLite catalog) or a bucket and
namespaces of the session's own (Nessie). Everything but the last sales file
is loaded and built first; then that file lands and a second, incremental
build runs; then everything is rebuilt with ``dbt build --full-refresh`` (what
``lakehouse transform --full-refresh`` runs) for comparison.
The snapshots taken between the steps are what the tests assert on.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog

from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.storage import LocalObjectStore, ObjectStore
from lakehouse.settings import Settings
from warehouse.dbt import project_dir, run_dbt
from warehouse.query import run_query

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
HELD_BACK = "raw/ecoride/sales/sales_2024-12.csv"  # the last monthly sales file: the "one more file"
GOLD = ("sales_monthly", "customer_value", "station_utilization", "vehicle_charging",
        "vehicle_battery_health", "model_satisfaction", "document_chunks")
GOLD_KEYS = {
    "sales_monthly": ("month", "model_id", "state"), "customer_value": ("customer_id",),
    "station_utilization": ("station_id",), "vehicle_charging": ("vehicle_id",),
    "vehicle_battery_health": ("vehicle_id",), "model_satisfaction": ("model_id",), "document_chunks": ("chunk_id",),
}
SILVER = ("ecoride_vehicles", "ecoride_customers", "ecoride_sales", "ecoride_product_reviews", "chargenet_stations",
          "chargenet_charging_sessions", "vehicle_health_logs", "vehicle_maintenance_log", "review_tags",
          "product_documents", "document_chunks", "rejected_rows")


def sample_keys() -> list[str]:
    return sorted(p.relative_to(SAMPLE).as_posix() for p in (SAMPLE / "raw").rglob("*") if p.is_file())


def land_and_load(settings: Settings, store: ObjectStore, catalog: Catalog, keys: list[str]) -> None:
    """Put the sample files under ``keys`` into the store and load them into bronze."""
    for key in keys:
        store.put_bytes(key, (SAMPLE / key).read_bytes())
    outcomes = BronzeLoader(settings, catalog=catalog, store=store).load([store.stat(k) for k in keys])
    assert {o.outcome for o in outcomes} == {"loaded"}, [o for o in outcomes if o.outcome != "loaded"]


def build(settings: Settings, *args: str) -> float:
    """``dbt <args>`` (default ``build``) on the duckdb target; fails the test with dbt's output. Returns seconds."""
    started = time.monotonic()
    result = run_dbt(list(args or ("build",)), settings, target="duckdb", capture=True)
    if result.returncode != 0:
        problems = [line for line in result.stdout.splitlines() if "FAIL" in line or "ERROR" in line or "rror" in line]
        pytest.fail(f"dbt {' '.join(args or ('build',))} failed ({result.returncode}):\n" + "\n".join(problems[:40])
                    + f"\n...\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}")
    return time.monotonic() - started


def rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    return run_query(settings, sql).to_pylist()


def snapshot(settings: Settings, schema: str, tables: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, sorted, for comparisons."""
    return {t: sorted(rows(settings, f"select * from {schema}.{t}"), key=repr) for t in tables}


def table_uuids(catalog: Catalog, namespace: str) -> dict[str, str]:
    """Iceberg table name -> table UUID (a table created again gets a new one)."""
    return {ident[-1]: str(catalog.load_table(ident).metadata.table_uuid) for ident in catalog.list_tables(namespace)}


@dataclass
class Built:
    """A backend after the three steps; snapshots of gold/silver between them."""

    settings: Settings
    catalog: Catalog
    gold_before: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gold_after: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    silver_incremental: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    silver_full_refresh: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    silver_table_uuids: dict[str, str] = field(default_factory=dict)  # Nessie: before the full refresh
    incremental_sales_sql: str = ""  # silver_ecoride_sales as the incremental build ran it

    def query(self, sql: str) -> list[dict[str, Any]]:
        return rows(self.settings, sql)


def assert_the_incremental_floor_is_the_new_files_first_stamp(built: Built) -> None:
    """The incremental build read bronze sales from the held-back file's first ``_ingested_at`` on.

    The whole sample is stamped within minutes, so a lookback floor (newest
    row in silver minus an hour) would re-read all of it; the floor must be the
    smallest lower bound of the files committed since the first build
    (docs/transformation.md, Incremental).
    """
    floors = re.findall(r"_ingested_at >= timestamptz '([^']+)'", built.incremental_sales_sql)
    assert len(floors) == 1, built.incremental_sales_sql[:2000]
    stamps = built.query(
        "select _source_key = '" + HELD_BACK + "' as held_back, min(_ingested_at) as first, max(_ingested_at) as last "
        "from bronze.ecoride_sales group by 1")
    held_back = next(r for r in stamps if r["held_back"])
    others = next(r for r in stamps if not r["held_back"])
    floor = datetime.fromisoformat(floors[0])
    assert floor == held_back["first"] and floor > others["last"]


def build_in_steps(settings: Settings, store: ObjectStore, catalog: Catalog) -> Built:
    built = Built(settings, catalog)
    keys = sample_keys()
    land_and_load(settings, store, catalog, [k for k in keys if k != HELD_BACK])
    built.seconds["first build"] = build(settings)
    built.gold_before = snapshot(settings, "gold", GOLD)
    land_and_load(settings, store, catalog, [HELD_BACK])
    built.seconds["incremental build"] = build(settings)
    built.incremental_sales_sql = (project_dir(settings) / "target" / "compiled" / "lakehouse" / "models" / "silver"
                                   / "silver_ecoride_sales.sql").read_text()
    built.gold_after = snapshot(settings, "gold", GOLD)
    built.silver_incremental = snapshot(settings, "silver", SILVER)
    if settings.mode != "embedded":
        built.silver_table_uuids = table_uuids(catalog, settings.silver_namespace)
    # What `lakehouse transform --full-refresh` runs: every model rebuilt from all of bronze.
    built.seconds["full refresh"] = build(settings, "build", "--full-refresh")
    built.silver_full_refresh = snapshot(settings, "silver", SILVER)
    return built


@pytest.fixture(scope="session")
def embedded_build(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Built:
    state = tmp_path_factory.mktemp("transformation") / "state"
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=state)
    settings.landing_dir.mkdir(parents=True)
    return build_in_steps(settings, LocalObjectStore(settings.landing_dir), open_catalog(settings))


@pytest.fixture(scope="session")
def nessie_build(services: Any, native_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The same steps on MinIO + Nessie: a bucket, bronze and silver namespaces of the session's own."""
    from ingestion.storage import S3ObjectStore
    from lakehouse.services.minio import MinioService, minio_client
    from tests.integration.conftest import _drop_test_data, drop_namespace

    suffix = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        native_settings, bucket=f"test-{suffix}", bronze_namespace=f"bronze_{suffix}", silver_namespace=f"silver_{suffix}",
        state_dir=tmp_path_factory.mktemp("transformation-nessie") / "state",
    )
    MinioService(settings).configure()
    catalog = open_catalog(settings)
    try:
        yield build_in_steps(settings, S3ObjectStore(minio_client(settings), settings.bucket), catalog)
    finally:
        drop_namespace(catalog, settings.silver_namespace)
        _drop_test_data(settings)
