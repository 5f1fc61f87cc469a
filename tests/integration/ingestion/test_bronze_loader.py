"""BronzeLoader behaviour, run against the SQLite catalog and against Nessie on MinIO."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.types import DecimalType, StringType

from ingestion.schema import arrow_type
from ingestion.specs import SPECS, route
from ingestion.writer import GroupWrite, data_commits
from tests.integration.ingestion.conftest import SALES_HEADER, Backend, land_sample, sales_csv

SALES_HEADER_WITH_EXTRA = SALES_HEADER + ",Promo Code"  # normalized to promo_code
SALE = "S{n},C{n},V{n},FM-AURORA,2024-01-{d:02d},45000.00,500.00,loan,FutureMobility Austin North,TX"


def sale_rows(count: int, start: int = 1) -> list[str]:
    return [SALE.format(n=n, d=1 + n % 28) for n in range(start, start + count)]


def expected_rows(manifest: dict, spec_name: str) -> dict[str, int]:
    """Rows per key the manifest promises for one spec (PDF: pages)."""
    out = {}
    for dataset in manifest["datasets"].values():
        for entry in dataset["files"]:
            spec = route(entry["key"])
            if spec is not None and spec.name == spec_name:
                out[entry["key"]] = entry.get("pages", entry["records"])
    return out


def test_every_sample_dataset_loads_with_its_row_count_types_and_lineage(backend: Backend, sample_manifest: dict) -> None:
    objects = land_sample(backend)
    etags = {o.key: o.etag for o in objects}
    outcomes = backend.loader().load(objects)

    assert Counter(o.outcome for o in outcomes) == {"loaded": len(objects)}
    for spec in SPECS:
        table = backend.table(spec.table)
        rows = table.scan().to_arrow()
        per_key = dict(Counter(rows.column("_source_key").to_pylist()))
        assert per_key == expected_rows(sample_manifest, spec.name), spec.name
        for field in spec.schema.fields:  # declared types, nested ones included (field ids aside)
            actual = table.schema().find_field(field.name).field_type
            assert arrow_type(actual) == arrow_type(field.field_type), (spec.name, field.name)
        assert {(k, e) for k, e in zip(rows.column("_source_key").to_pylist(), rows.column("_source_etag").to_pylist())} \
            == {(k, etags[k]) for k in per_key}
        assert rows.column("_ingested_at").null_count == 0
        assert rows.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
        assert data_commits(table) == 1, f"{spec.name}: one commit per table per batch"


def test_typed_values_and_nested_json_arrive_as_structs_and_lists(backend: Backend) -> None:
    record = {
        "record_id": "VH-1", "vehicle_id": "V1", "model_id": "FM-ION", "recorded_at": "2024-03-01T08:30:00Z",
        "odometer_km": 12000.5,
        "battery": {"state_of_health_pct": 97.5, "cycle_count": 210, "temperature_c": 24.1, "voltage_v": 398.2},
        "performance": {"efficiency_wh_per_km": 160.2, "motor_temp_c": 55.0, "regen_efficiency_pct": 71.0},
        "service_flags": ["tire_rotation"],
        "maintenance_log": [{"date": "2024-02-01", "service_type": "inspection", "cost_usd": 129.99, "notes": "ok"}],
    }
    obj = backend.put("raw/vehicle_health/2024/03/health.jsonl.gz", gzip.compress(json.dumps(record).encode()))
    backend.loader().load([obj])

    row = backend.rows("vehicle_health_logs").to_pylist()[0]
    assert row["recorded_at"] == datetime(2024, 3, 1, 8, 30, tzinfo=timezone.utc)
    assert row["battery"]["cycle_count"] == 210
    assert str(row["maintenance_log"][0]["cost_usd"]) == "129.99"
    assert row["maintenance_log"][0]["date"].isoformat() == "2024-02-01"
    assert row["_rescued_data"] is None


def test_several_files_of_one_table_load_in_one_commit(backend: Backend) -> None:
    objects = [backend.put(f"raw/ecoride/sales/sales_2024-0{m}.csv", sales_csv(*sale_rows(3, m * 10))) for m in (1, 2, 3)]
    outcomes = backend.loader().load(objects)

    assert [o.outcome for o in outcomes] == ["loaded"] * 3
    assert [o.table for o in outcomes] == [f"{backend.settings.bronze_namespace}.ecoride_sales"] * 3
    table = backend.table("ecoride_sales")
    assert data_commits(table) == 1
    assert table.scan().to_arrow().num_rows == 9


def test_reloading_the_same_object_adds_no_rows(backend: Backend) -> None:
    obj = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(5)))
    first = backend.loader().load([obj])
    again = backend.loader().load([obj])

    assert (first[0].outcome, first[0].rows) == ("loaded", 5)
    assert (again[0].outcome, again[0].rows) == ("duplicate", 0)
    assert backend.rows("ecoride_sales").num_rows == 5
    assert data_commits(backend.table("ecoride_sales")) == 1


def test_a_crash_between_commit_and_acknowledgement_replays_as_a_no_op(backend: Backend,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(4))),
             backend.put("raw/ecoride/reviews/reviews.jsonl", '{"review_id": "R1", "rating": 5}\n')]
    commit = GroupWrite.commit

    def commit_then_crash(self: GroupWrite, files: int):  # noqa: ANN202
        commit(self, files)
        raise SystemExit("process killed after the Iceberg commit, before the offset commit")

    monkeypatch.setattr(GroupWrite, "commit", commit_then_crash)
    with pytest.raises(SystemExit):
        backend.loader().load(batch)
    monkeypatch.undo()

    replay = backend.loader().load(batch)  # the unacknowledged events come again
    # Sales had committed when the process died; reviews (the next group) had not started.
    assert [o.outcome for o in replay] == ["duplicate", "loaded"]
    replay = backend.loader().load(batch)
    assert [o.outcome for o in replay] == ["duplicate", "duplicate"]
    assert backend.rows("ecoride_sales").num_rows == 4
    assert backend.rows("ecoride_product_reviews").num_rows == 1


def test_the_same_object_twice_in_one_batch_loads_once(backend: Backend) -> None:
    obj = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(2)))
    outcomes = backend.loader().load([obj, obj])

    assert [o.outcome for o in outcomes] == ["loaded", "duplicate"]
    assert backend.rows("ecoride_sales").num_rows == 2


def test_a_new_etag_for_the_same_key_is_a_new_load(backend: Backend) -> None:
    old = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(2)))
    backend.loader().load([old])
    new = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(3)))
    outcomes = backend.loader().load([new])

    assert new.etag != old.etag
    assert outcomes[0].outcome == "loaded"
    rows = backend.rows("ecoride_sales")
    assert Counter(rows.column("_source_etag").to_pylist()) == {old.etag: 2, new.etag: 3}


def test_a_zero_row_file_is_recorded_in_the_outcome_log_not_in_table_properties(backend: Backend) -> None:
    empty = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv())
    first = backend.loader().load([empty])
    again = backend.loader().load([empty])

    assert (first[0].outcome, first[0].rows) == ("loaded", 0)
    assert again[0].outcome == "duplicate"
    assert backend.loader().pending([empty]) == []
    table = backend.table("ecoride_sales")
    assert not any(k.startswith("lakehouse.ledger.") for k in table.properties)
    assert data_commits(table) == 0  # no snapshot on the data table for a file without rows
    log = backend.table("_file_outcomes").scan().to_arrow().to_pylist()
    assert [(r["source_key"], r["source_etag"], r["outcome"]) for r in log] == [(empty.key, empty.etag, "empty")]


def test_the_ledger_survives_snapshot_expiry(backend: Backend) -> None:
    first = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(2)))
    empty = backend.put("raw/ecoride/sales/sales_2024-02.csv", sales_csv())
    backend.loader().load([first, empty])
    backend.loader().load([backend.put("raw/ecoride/sales/sales_2024-03.csv", sales_csv(*sale_rows(1, 50)))])
    table = backend.table("ecoride_sales")
    current = table.current_snapshot().snapshot_id
    older = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current]
    if older:  # Nessie's table metadata already holds the current snapshot only
        table.maintenance.expire_snapshots().by_ids(older).commit()

    assert [s.snapshot_id for s in backend.table("ecoride_sales").snapshots()] == [current]
    assert [o.outcome for o in backend.loader().load([first, empty])] == ["duplicate", "duplicate"]
    assert backend.rows("ecoride_sales").num_rows == 3


def test_an_extra_csv_column_evolves_the_schema(backend: Backend) -> None:
    plain = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(2)))
    backend.loader().load([plain])
    wider = backend.put("raw/ecoride/sales/sales_2024-02.csv",
                        sales_csv(sale_rows(1, 10)[0] + ",Black Friday", header=SALES_HEADER_WITH_EXTRA))
    outcomes = backend.loader().load([wider])

    assert outcomes[0].outcome == "loaded"
    table = backend.table("ecoride_sales")
    assert table.schema().find_field("promo_code").field_type == StringType()
    rows = table.scan().to_arrow()
    assert Counter(rows.column("promo_code").to_pylist()) == {None: 2, "Black Friday": 1}



def test_a_bad_price_keeps_the_row_with_a_null_and_rescues_the_original(backend: Backend) -> None:
    bad = "S9,C9,V9,FM-ION,2024-01-05,abc,0.00,cash,FutureMobility Denver,CO"
    obj = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(bad, *sale_rows(2)))
    outcomes = backend.loader().load([obj])

    assert (outcomes[0].outcome, outcomes[0].rows) == ("loaded", 3)
    table = backend.table("ecoride_sales")
    assert table.schema().find_field("sale_price_usd").field_type == DecimalType(12, 2)
    rows = table.scan().to_arrow()
    row = rows.filter(pc.equal(rows.column("sale_id"), "S9")).to_pylist()[0]
    assert row["sale_price_usd"] is None
    assert json.loads(row["_rescued_data"]) == {"sale_price_usd": "abc"}
    assert str(row["discount_usd"]) == "0.00"
    assert rows.filter(pc.equal(rows.column("sale_id"), "S1")).to_pylist()[0]["_rescued_data"] is None


def _error_report(backend: Backend, key: str) -> dict:
    return json.loads(backend.read(f"quarantine/{key}.error.json"))


def test_a_truncated_json_file_is_quarantined_with_a_readable_reason_and_the_next_file_loads(backend: Backend) -> None:
    broken = backend.put("raw/chargenet/sessions/sessions_2024-01-01.json", '[{"session_id": "X1", "energy_kwh": 3')
    good = backend.put("raw/chargenet/sessions/sessions_2024-01-08.jsonl", '{"session_id": "X2", "energy_kwh": 4.5}\n')
    outcomes = backend.loader().load([broken, good])

    assert [o.outcome for o in outcomes] == ["quarantined", "loaded"]
    assert outcomes[0].error is not None and outcomes[0].error.reason == "parse_error"
    report = _error_report(backend, broken.key)
    assert report["reason"] == "parse_error" and report["spec"] == "chargenet_charging_sessions"
    assert report["key"] == broken.key and report["etag"] == broken.etag
    assert "truncated" in report["message"] and report["exception"]
    assert backend.read(f"quarantine/{broken.key}") == backend.read(broken.key)
    assert backend.rows("chargenet_charging_sessions").column("session_id").to_pylist() == ["X2"]


def test_an_unroutable_key_is_quarantined_and_the_rest_of_the_batch_loads(backend: Backend) -> None:
    stray = backend.put("raw/ecoride/notes/readme.txt", "not data")
    good = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(1)))
    outcomes = backend.loader().load([stray, good])

    assert [(o.outcome, o.table) for o in outcomes] == [
        ("quarantined", None), ("loaded", f"{backend.settings.bronze_namespace}.ecoride_sales")]
    assert outcomes[0].error is not None and outcomes[0].error.reason == "unroutable_key"
    report = _error_report(backend, stray.key)
    assert report["reason"] == "unroutable_key" and report["spec"] is None
    assert backend.loader().pending([stray, good]) == []  # quarantine is remembered: replay skips it


def test_a_file_without_a_single_usable_row_is_quarantined_as_all_rows_invalid(backend: Backend) -> None:
    wrong = backend.put("raw/ecoride/customers/customers.csv", "colour,size\nred,XL\nblue,M\n")
    outcomes = backend.loader().load([wrong])

    assert outcomes[0].outcome == "quarantined"
    assert outcomes[0].error is not None and outcomes[0].error.reason == "all_rows_invalid"
    assert "colour" not in backend.table("ecoride_customers").schema().column_names


def test_a_quarantined_files_new_columns_never_reach_the_table(backend: Backend) -> None:
    # The new key shows up in the first batch of records; the file is cut off later.
    records = ",".join(json.dumps({"review_id": f"R{i}", "rating": 4, "mood": "happy"}) for i in range(12_000))
    broken = backend.put("raw/ecoride/reviews/reviews_2024-Q1.json", "[" + records + ',{"review_id": "R')
    good = backend.put("raw/ecoride/reviews/reviews_2024-Q2.jsonl", '{"review_id": "OK", "rating": 5}\n')
    outcomes = backend.loader().load([broken, good])

    assert [o.outcome for o in outcomes] == ["quarantined", "loaded"]
    table = backend.table("ecoride_product_reviews")
    assert "mood" not in table.schema().column_names
    assert table.scan().to_arrow().column("review_id").to_pylist() == ["OK"]


def test_pending_lists_only_what_the_ledger_lacks(backend: Backend) -> None:
    loaded = backend.put("raw/ecoride/sales/sales_2024-01.csv", sales_csv(*sale_rows(1)))
    backend.loader().load([loaded])
    fresh = backend.put("raw/ecoride/sales/sales_2024-02.csv", sales_csv(*sale_rows(1, 5)))
    other_table = backend.put("raw/chargenet/stations/stations.json", "[]")

    assert backend.loader().pending(backend.store.list("raw/")) == [
        o for o in backend.store.list("raw/") if o.key in (other_table.key, fresh.key)]
