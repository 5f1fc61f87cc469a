"""The per-dataset column cap through the real BronzeLoader (issue 9, item 4): quarantine, table unchanged.

Before issue 9 a header of 5,000 fields, or JSON whose keys are data, added all
its columns to the bronze table for good (outcome ``loaded``, no rows needed).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ingestion import specs
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.parsers import json as json_parser
from ingestion.schema import data_column_names
from ingestion.specs import Limits
from ingestion.storage import LocalObjectStore
from lakehouse import reasons
from lakehouse.settings import Settings

SALES = specs.SPECS_BY_NAME["ecoride_sales"]
REVIEWS = specs.SPECS_BY_NAME["ecoride_product_reviews"]


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    settings.landing_dir.mkdir(parents=True)
    return settings


def capped(monkeypatch: pytest.MonkeyPatch, name: str, columns: int) -> None:
    """Give one dataset its own cap (``Limits`` is per spec), the others keep theirs."""
    monkeypatch.setattr(specs, "SPECS", tuple(
        dataclasses.replace(s, limits=Limits(max_new_columns=columns)) if s.name == name else s for s in specs.SPECS))


def columns_of(settings: Settings, spec: specs.DatasetSpec) -> list[str]:
    table = open_catalog(settings).load_table(spec.identifier(settings.bronze_namespace))
    return data_column_names(table.schema())


def load(settings: Settings, files: dict[str, bytes]) -> dict[str, tuple[str, str | None]]:
    store = LocalObjectStore(settings.landing_dir)
    for key, data in files.items():
        store.put_bytes(key, data)
    outcomes = BronzeLoader(settings, store=store).load([store.stat(k) for k in files])
    return {o.key: (o.outcome, o.error.reason if o.error else None) for o in outcomes}


def test_a_5000_column_header_with_a_real_column_is_quarantined_and_adds_nothing(settings: Settings) -> None:
    wide = ("sale_id," + ",".join(f"c{i}" for i in range(5_000)) + "\n" + "S1," + ",".join("1" * 5_000)).encode()
    good = b"sale_id,sale_date,sale_price_usd,note\nS2,2024-01-02,10.00,hello\n"
    result = load(settings, {"raw/ecoride/sales/wide.csv": wide, "raw/ecoride/sales/good.csv": good})
    assert result == {"raw/ecoride/sales/wide.csv": ("quarantined", reasons.SCHEMA_LIMIT),
                      "raw/ecoride/sales/good.csv": ("loaded", None)}
    assert columns_of(settings, SALES) == data_column_names(SALES.schema) + ["note"]


def test_the_cap_is_per_dataset(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    capped(monkeypatch, "ecoride_sales", 2)
    result = load(settings, {
        "raw/ecoride/sales/two.csv": b"sale_id,x1,x2\nS1,a,b\n",
        "raw/ecoride/sales/three.csv": b"sale_id,y1,y2,y3\nS2,a,b,c\n",
        "raw/ecoride/customers/three.csv": b"customer_id,y1,y2,y3\nC1,a,b,c\n",  # default cap (64)
    })
    assert result == {"raw/ecoride/sales/two.csv": ("loaded", None),
                      "raw/ecoride/sales/three.csv": ("quarantined", reasons.SCHEMA_LIMIT),
                      "raw/ecoride/customers/three.csv": ("loaded", None)}
    assert columns_of(settings, SALES)[-2:] == ["x1", "x2"]


def test_json_keys_that_are_data_crossing_the_cap_in_a_later_batch_leave_no_column(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    capped(monkeypatch, "ecoride_product_reviews", 3)
    monkeypatch.setattr(json_parser, "BATCH_RECORDS", 2)  # the first batch adds 2 columns, a later one more
    records = [{"review_id": f"R{i}", f"user_{i}": i} for i in range(6)]
    result = load(settings, {
        "raw/ecoride/reviews/keys_are_data.jsonl": "\n".join(json.dumps(r) for r in records).encode(),
        "raw/ecoride/reviews/good.json": json.dumps([{"review_id": "R9", "rating": 5}]).encode(),
    })
    assert result == {"raw/ecoride/reviews/keys_are_data.jsonl": ("quarantined", reasons.SCHEMA_LIMIT),
                      "raw/ecoride/reviews/good.json": ("loaded", None)}
    assert columns_of(settings, REVIEWS) == data_column_names(REVIEWS.schema)
