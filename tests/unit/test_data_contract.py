"""The committed sample against the source data contract (DESIGN.md section 4)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest
from pypdf import PdfReader

from tests.unit.test_data_support import (
    README,
    SAMPLE,
    files_of,
    key_of,
    manifest,
    read_csv,
    read_json_records,
    readme_number,
    readme_table,
)

CSV_COLUMNS = {
    "vehicles": ["model_id", "model_name", "model_year", "body_type", "battery_capacity_kwh", "range_km",
                 "charge_time_fast_min", "seats", "base_price_usd"],
    "customers": ["customer_id", "first_name", "last_name", "email", "phone", "city", "state", "country",
                  "signup_date", "birth_year"],
    "sales": ["sale_id", "customer_id", "vehicle_id", "model_id", "sale_date", "sale_price_usd", "discount_usd",
              "payment_method", "dealership", "state"],
}
# dataset -> (required keys, optional keys, nested object -> its keys)
JSON_KEYS: dict[str, tuple[set[str], set[str], dict[str, set[str]]]] = {
    "reviews": ({"review_id", "model_id", "customer_id", "rating", "review_text", "review_date"},
                {"title", "verified_purchase", "helpful_votes", "tags"}, {}),
    "stations": ({"station_id", "name", "operator", "location", "charger_type", "num_ports", "max_power_kw",
                  "opened_date", "status"}, set(),
                 {"location": {"latitude", "longitude", "address", "city", "state"}}),
    "sessions": ({"session_id", "station_id", "vehicle_id", "customer_id", "start_time", "end_time", "energy_kwh",
                  "cost_usd", "payment_method", "port_number"}, set(), {}),
    "vehicle_health": ({"record_id", "vehicle_id", "model_id", "recorded_at", "odometer_km", "battery",
                        "service_flags", "maintenance_log"}, {"performance"},
                       {"battery": {"state_of_health_pct", "cycle_count", "temperature_c", "voltage_v"},
                        "performance": {"efficiency_wh_per_km", "motor_temp_c", "regen_efficiency_pct"}}),
}
# Routing patterns of DESIGN.md section 3, plus the names the issue asks for.
KEY_PATTERNS = {
    "vehicles": r"raw/ecoride/vehicles/vehicles\.csv",
    "customers": r"raw/ecoride/customers/customers\.csv",
    "sales": r"raw/ecoride/sales/sales_\d{4}-\d{2}(_resent)?\.csv",
    "reviews": r"raw/ecoride/reviews/reviews_\d{4}-Q[1-4]\.jsonl?(\.gz)?",
    "stations": r"raw/chargenet/stations/stations\.json",
    "sessions": r"raw/chargenet/sessions/sessions_\d{4}-\d{2}-\d{2}\.jsonl(\.gz)?",
    "vehicle_health": r"raw/vehicle_health/health_\d{4}-\d{2}\.jsonl\.gz",
    "documents": r"raw/docs/(specs/FM-[A-Z]+|brochures/model_comparison|maintenance/[a-z_]+)\.pdf",
}


def test_every_file_under_raw_is_in_the_manifest_with_its_size_and_hash() -> None:
    listed = {f["key"]: f for d in manifest()["datasets"].values() for f in d["files"]}
    on_disk = {key_of(p): p for p in (SAMPLE / "raw").rglob("*") if p.is_file()}
    assert sorted(listed) == sorted(on_disk)
    for key, path in on_disk.items():
        data = path.read_bytes()
        assert (listed[key]["bytes"], listed[key]["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), key


@pytest.mark.parametrize("dataset", sorted(KEY_PATTERNS))
def test_landing_keys_follow_the_routing_table(dataset: str) -> None:
    keys = [key_of(p) for p in files_of(dataset)]
    assert keys
    assert [k for k in keys if not re.fullmatch(KEY_PATTERNS[dataset], k)] == []


@pytest.mark.parametrize("dataset", sorted(CSV_COLUMNS))
def test_csv_files_have_the_contract_header_and_counted_rows(dataset: str) -> None:
    entries = {f["key"]: f for f in manifest()["datasets"][dataset]["files"]}
    for path in files_of(dataset):
        header, rows = read_csv(path)
        assert header == CSV_COLUMNS[dataset]
        assert all(len(row) == len(header) for row in rows), path
        assert len(rows) == entries[key_of(path)]["records"]


@pytest.mark.parametrize("dataset", sorted(JSON_KEYS))
def test_json_records_have_the_contract_keys_and_counted_records(dataset: str) -> None:
    required, optional, nested = JSON_KEYS[dataset]
    entries = {f["key"]: f for f in manifest()["datasets"][dataset]["files"]}
    for path in files_of(dataset):
        records = read_json_records(path)
        assert len(records) == entries[key_of(path)]["records"]
        for record in records:
            assert required <= record.keys() <= required | optional, (path.name, record)
            for name, keys in nested.items():
                if name in record:
                    assert record[name].keys() == keys, (path.name, record)


def test_json_comes_as_arrays_and_as_lines_both_plain_and_gzipped() -> None:
    suffixes = {p.name.split(".", 1)[1] for d in ("reviews", "sessions", "vehicle_health") for p in files_of(d)}
    assert {"json", "jsonl", "json.gz", "jsonl.gz"} <= suffixes
    for path in (SAMPLE / "raw").rglob("*.gz"):
        assert gzip.decompress(path.read_bytes())
    for path in (SAMPLE / "raw").rglob("*.json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), list)


def test_every_pdf_opens_and_has_text_on_every_page() -> None:
    entries = {f["key"]: f for f in manifest()["datasets"]["documents"]["files"]}
    for path in files_of("documents"):
        reader = PdfReader(path)
        assert len(reader.pages) == entries[key_of(path)]["pages"] >= 2
        assert all(len(page.extract_text().strip()) > 100 for page in reader.pages), path


def test_money_has_two_decimals_in_csv() -> None:
    _, vehicle_rows = read_csv(SAMPLE / "raw/ecoride/vehicles/vehicles.csv")
    prices = [row[8] for row in vehicle_rows]
    for path in files_of("sales"):
        _, rows = read_csv(path)
        prices += [v for row in rows for v in (row[5], row[6])]
    assert all(re.fullmatch(r"-?\d+\.\d{2}", p) for p in prices)


def test_sample_is_small_enough_for_the_repository() -> None:
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 6_000_000


def test_readme_row_counts_match_the_manifest() -> None:
    rows = readme_table("Datasets in the sample")
    datasets = manifest()["datasets"]
    assert sorted(row[0] for row in rows) == sorted(datasets)
    for name, *_, files, generated, in_files in rows:
        entry = datasets[name]
        assert (readme_number(files), readme_number(generated), readme_number(in_files)) == (
            len(entry["files"]), entry["generated"], entry["records_in_files"]), name


def test_readme_dirt_table_matches_the_manifest() -> None:
    rows = readme_table("Dirt and deliberate violations")
    datasets = manifest()["datasets"]
    seen = set()
    for dataset, kind, _, rate, count in rows:
        entry = datasets[dataset]
        expected = (entry["resent_file"]["records"] if kind == "resent_file"
                    else {**entry["dirt"], **entry["violations"], **entry["shape"]}[kind])
        assert readme_number(count) == expected, (dataset, kind)
        if kind in entry["dirt_rates"]:
            assert float(rate.rstrip("%")) / 100 == pytest.approx(entry["dirt_rates"][kind]), (dataset, kind)
        seen.add((dataset, kind))
    resent = datasets["sales"]["resent_file"]
    names = f"`{resent['key'].rsplit('/', 1)[1]}` = `{resent['copy_of'].rsplit('/', 1)[1]}`"
    assert names in README.read_text(encoding="utf-8")
    listed = {(d, k) for d, e in datasets.items() for k in [*e["dirt"], *e["violations"], *e["shape"]]}
    assert listed <= seen, f"missing from data/README.md: {sorted(listed - seen)}"
