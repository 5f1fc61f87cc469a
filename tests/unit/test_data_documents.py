"""The PDFs carry real text, and the spec sheets' figures equal vehicles.csv."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.unit.test_data_contract import CSV_COLUMNS
from tests.unit.test_data_support import SAMPLE, as_dicts

VEHICLES = as_dicts("vehicles", tuple(CSV_COLUMNS["vehicles"]))

# vehicles.csv column -> (label printed on the spec sheet, pattern of the value after it)
SPEC_FIELDS = {
    "model_id": ("Model ID", r"(FM-[A-Z]+)"),
    "model_name": ("Model name", r"(\w+)"),
    "model_year": ("Model year", r"(\d{4})"),
    "body_type": ("Body type", r"(\w+)"),
    "battery_capacity_kwh": ("Battery capacity", r"([\d.]+) kWh"),
    "range_km": ("Range", r"(\d+) km"),
    "charge_time_fast_min": ("DC fast charge 10-80%", r"(\d+) min"),
    "seats": ("Seats", r"(\d+)"),
    "base_price_usd": ("Base price", r"USD ([\d,]+\.\d{2})"),
}


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.mark.parametrize("vehicle", VEHICLES, ids=lambda v: v["model_id"])
def test_spec_sheet_figures_equal_the_vehicles_csv_row(vehicle: dict[str, str]) -> None:
    path = SAMPLE / "raw/docs/specs" / f"{vehicle['model_id']}.pdf"
    text = pdf_text(path)
    assert len(PdfReader(path).pages) >= 3
    for column, (label, pattern) in SPEC_FIELDS.items():
        match = re.search(rf"^{re.escape(label)}\s*{pattern}\s*$", text, re.MULTILINE)
        assert match, f"{label} not found in {path.name}"
        assert match.group(1).replace(",", "") == vehicle[column], (path.name, column)


def test_brochure_compares_every_model_with_its_csv_figures() -> None:
    text = pdf_text(SAMPLE / "raw/docs/brochures/model_comparison.pdf")
    for v in VEHICLES:
        price = f"{float(v['base_price_usd']):,.2f}"
        row = " ".join([v["model_name"], v["model_year"], v["body_type"], v["battery_capacity_kwh"], v["range_km"],
                        v["charge_time_fast_min"], v["seats"], price])
        assert row in text, row


def test_maintenance_sheets_name_the_service_types_used_in_health_logs() -> None:
    texts = [pdf_text(p) for p in sorted((SAMPLE / "raw/docs/maintenance").glob("*.pdf"))]
    assert len(texts) >= 3
    joined = "\n".join(texts)
    for service in ("tire_rotation", "brake_inspection", "software_update", "coolant_service"):
        assert service in joined


def test_pdf_metadata_is_fixed_so_bytes_depend_only_on_the_seed() -> None:
    for path in sorted((SAMPLE / "raw/docs").rglob("*.pdf")):
        metadata = PdfReader(path).metadata
        assert metadata is not None and metadata["/CreationDate"] == "D:20250101000000Z"
        assert metadata["/Producer"] == "FutureMobility mock data generator"
