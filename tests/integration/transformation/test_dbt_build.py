"""dbt build on the loaded sample (embedded: SQLite catalog, DuckDB): gold is right, rebuilds are incremental.

The expected figures come from tests/integration/transformation/expected.py,
plain Python over the raw sample files, and from the sample's manifest (the
dirt counts of data/README.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.transformation import expected
from tests.integration.transformation.conftest import (
    GOLD_KEYS, HELD_BACK, SILVER, Built, assert_the_incremental_floor_is_the_new_files_first_stamp, sample_keys,
)
from warehouse.dbt import run_dbt

ALL = sample_keys()
BEFORE = [k for k in ALL if k != HELD_BACK]
DIRT = json.loads((expected.SAMPLE / "manifest.json").read_text())["datasets"]


def _by_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in key): r for r in rows}


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def _monthly(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[int, Decimal, float | None]]:
    return {
        (r["month"], r["model_id"], r["state"]): (
            r["units"], r["revenue_usd"], None if r["revenue_growth_pct"] is None else float(r["revenue_growth_pct"]))
        for r in rows
    }


def _same_monthly(a: tuple[int, Decimal, float | None], b: tuple[int, Decimal, float | None]) -> bool:
    growth_equal = (a[2] is None and b[2] is None) or (a[2] is not None and b[2] is not None and abs(a[2] - b[2]) < 0.006)
    return a[0] == b[0] and a[1] == b[1] and growth_equal


def test_units_revenue_and_growth_per_month_model_and_state_equal_a_computation_over_the_raw_files(embedded_build: Built) -> None:
    actual, wanted = _monthly(embedded_build.gold_after["sales_monthly"]), expected.sales_monthly(ALL)
    assert actual.keys() == wanted.keys()
    wrong = {k: (actual[k], wanted[k]) for k in wanted if not _same_monthly(actual[k], wanted[k])}
    assert not wrong


def test_the_resent_file_is_counted_once(embedded_build: Built) -> None:
    [row] = embedded_build.query("select count(*) as n, count(distinct sale_id) as ids from silver.ecoride_sales")
    assert row["n"] == row["ids"] == len(expected.current_sales(ALL))
    [units] = embedded_build.query("select sum(units) as n from gold.sales_monthly")
    assert units["n"] == row["n"]


def test_repeat_buyers_and_lifetime_values_equal_a_computation_over_the_raw_files(embedded_build: Built) -> None:
    rows = embedded_build.gold_after["customer_value"]
    assert {r["customer_id"] for r in rows if r["is_repeat_buyer"]} == expected.repeat_buyers(ALL)
    assert {r["customer_id"]: (r["purchases"], r["lifetime_value_usd"]) for r in rows} == expected.customer_value(ALL)


def test_energy_per_station_equals_a_computation_over_the_raw_files(embedded_build: Built) -> None:
    wanted = expected.energy_per_station(ALL)
    actual = {r["station_id"]: r["energy_kwh"] for r in embedded_build.gold_after["station_utilization"] if r["sessions"]}
    assert actual.keys() == wanted.keys()
    assert all(abs(actual[s] - wanted[s]) < 1e-6 for s in wanted)


def test_rows_rejected_per_rule_equal_the_raw_files_and_the_dirt_counts_of_the_sample(embedded_build: Built) -> None:
    actual = {
        (r["dataset"], r["rule"]): r["n"]
        for r in embedded_build.query("select dataset, rule, count(distinct business_key) as n from silver.rejected_rows group by all")
    }
    assert actual == expected.rejected_keys_per_rule(ALL)
    assert actual[("ecoride_customers", "unparseable_date")] == DIRT["customers"]["dirt"]["unparseable_date"]
    assert actual[("ecoride_sales", "unparseable_date")] == DIRT["sales"]["dirt"]["unparseable_date"]
    assert actual[("ecoride_sales", "non_positive_price")] == DIRT["sales"]["dirt"]["non_positive_amount"]
    assert actual[("ecoride_product_reviews", "unparseable_date")] == DIRT["reviews"]["dirt"]["unparseable_date"]
    sessions = DIRT["sessions"]["dirt"]
    assert actual[("chargenet_charging_sessions", "end_before_start")] == sessions["end_before_start"]
    assert actual[("chargenet_charging_sessions", "unparseable_timestamp")] == sessions["unparseable_timestamp"]
    aborted_or_negative = actual[("chargenet_charging_sessions", "non_positive_energy")] + actual[("chargenet_charging_sessions", "negative_cost")]
    assert aborted_or_negative == sessions["non_positive_amount"]
    assert actual[("vehicle_health_logs", "unparseable_timestamp")] == DIRT["vehicle_health"]["dirt"]["unparseable_timestamp"]


def test_one_more_sales_file_changes_exactly_the_gold_rows_it_should(embedded_build: Built) -> None:
    before, after = _monthly(embedded_build.gold_before["sales_monthly"]), _monthly(embedded_build.gold_after["sales_monthly"])
    changed = {k for k in before.keys() | after.keys() if k not in before or k not in after or not _same_monthly(before[k], after[k])}
    want_before, want_after = expected.sales_monthly(BEFORE), expected.sales_monthly(ALL)
    want_changed = {
        k for k in want_before.keys() | want_after.keys()
        if k not in want_before or k not in want_after or not _same_monthly(want_before[k], want_after[k])
    }
    assert changed == want_changed and changed
    customers_before = {r["customer_id"]: (r["purchases"], r["lifetime_value_usd"]) for r in embedded_build.gold_before["customer_value"]}
    assert customers_before == expected.customer_value(BEFORE)
    for view in ("station_utilization", "model_satisfaction", "vehicle_battery_health", "document_chunks"):
        # Float sums may differ in the last bits with scan order: compare rounded.
        assert _rounded(embedded_build.gold_before[view]) == _rounded(embedded_build.gold_after[view]), f"{view} does not depend on sales"


def test_incremental_silver_equals_a_full_refresh(embedded_build: Built) -> None:
    for table in SILVER:
        assert _rounded(embedded_build.silver_incremental[table]) == _rounded(embedded_build.silver_full_refresh[table]), table


def test_an_incremental_run_reads_only_the_bronze_rows_committed_since_the_last_one(embedded_build: Built) -> None:
    assert_the_incremental_floor_is_the_new_files_first_stamp(embedded_build)


def test_every_gold_view_has_its_grain_and_rows(embedded_build: Built) -> None:
    for view, key in GOLD_KEYS.items():
        rows = embedded_build.gold_after[view]
        assert rows and len(_by_key(rows, key)) == len(rows), view


def test_bronze_freshness_on_ingested_at_passes_after_a_load(embedded_build: Built) -> None:
    result = run_dbt(["source", "freshness"], embedded_build.settings, target="duckdb", capture=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count("PASS freshness of bronze.") == 8


def test_build_times_are_reported(embedded_build: Built, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print("\n" + ", ".join(f"{step}: {seconds:.1f} s" for step, seconds in embedded_build.seconds.items()))
    assert embedded_build.seconds["incremental build"] > 0
