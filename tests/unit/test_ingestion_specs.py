"""The dataset registry: routing table of DESIGN.md section 3, schemas, partitioning."""

from __future__ import annotations

import pytest

from ingestion.parsers import PARSERS
from ingestion.schema import LINEAGE_COLUMNS, arrow_schema
from ingestion.specs import SPECS, route

ROUTES = [
    ("raw/ecoride/vehicles/vehicles.csv", "ecoride_vehicles"),
    ("raw/ecoride/customers/2024/customers.csv.gz", "ecoride_customers"),
    ("raw/ecoride/sales/sales_2024-01.csv", "ecoride_sales"),
    ("raw/ecoride/reviews/reviews_2024-Q1.json", "ecoride_product_reviews"),
    ("raw/ecoride/reviews/reviews_2024-Q2.jsonl.gz", "ecoride_product_reviews"),
    ("raw/chargenet/stations/stations.json", "chargenet_stations"),
    ("raw/chargenet/sessions/sessions_2024-01-01.jsonl", "chargenet_charging_sessions"),
    ("raw/vehicle_health/2024/03/health.json.gz", "vehicle_health_logs"),
    ("raw/docs/specs/FM-AURORA.pdf", "product_documents"),
    ("raw/docs/maintenance/sub/battery_care.pdf", "product_documents"),
]


@pytest.mark.parametrize(("key", "table"), ROUTES)
def test_every_key_of_the_routing_table_finds_its_table(key: str, table: str) -> None:
    spec = route(key)
    assert spec is not None and spec.table == table


@pytest.mark.parametrize("key", [
    "raw/ecoride/sales/sales.txt",
    "raw/ecoride/sales/sales.csv.zip",
    "raw/docs/loose.pdf",  # a document needs its <doc_type> folder
    "raw/unknown/x.csv",
    "ecoride/sales/sales.csv",  # not under raw/
    "raw/ecoride/reviews/reviews.csv",
])
def test_keys_outside_the_routing_table_are_unroutable(key: str) -> None:
    assert route(key) is None


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_spec_has_a_parser_lineage_columns_and_a_valid_partition_spec(spec) -> None:  # noqa: ANN001
    assert spec.format in PARSERS
    names = spec.schema.column_names
    assert names[-len(LINEAGE_COLUMNS):] == [n for n, _ in LINEAGE_COLUMNS]
    assert all(not f.required for f in spec.schema.fields)
    arrow_schema(spec.schema)  # every declared type maps to Arrow
    for field in spec.partition_spec().fields:
        assert spec.schema.find_field(field.source_id)


def test_sales_are_partitioned_by_month_of_sale_date() -> None:
    spec = route("raw/ecoride/sales/x.csv")
    assert spec is not None
    (field,) = spec.partition_spec().fields
    assert (spec.schema.find_column_name(field.source_id), str(field.transform)) == ("sale_date", "month")


def test_table_names_are_unique() -> None:
    assert len({s.table for s in SPECS}) == len(SPECS)
