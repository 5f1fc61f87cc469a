"""PDF documents with extractable text: spec sheets, a brochure, maintenance tips.

Rendered with fpdf2's core Helvetica font. Metadata and the creation date are
fixed, so the bytes depend only on the seed (through the model figures) and
the fpdf2 version. Spec-sheet figures are printed exactly as in vehicles.csv.
"""

from __future__ import annotations

import logging

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from data.generator.config import PDF_CREATION_DATE
from data.generator.doc_content import BROCHURE_INTRO, BROCHURE_OWNERSHIP, MAINTENANCE_SHEETS, SERVICE_TABLE
from data.generator.entities import VehicleModel
from data.generator.writers import DatasetReport, Output

logger = logging.getLogger(__name__)

BROCHURE_KEY = "raw/docs/brochures/model_comparison.pdf"
_BODY_LABELS = {"suv": "SUV"}


def spec_key(model: VehicleModel) -> str:
    """Landing key of a model's specification sheet."""
    return f"raw/docs/specs/{model.model_id}.pdf"


class _Doc(FPDF):
    """A4 page with a FutureMobility header and page-numbered footer."""

    def __init__(self, title: str, subject: str) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.set_creation_date(PDF_CREATION_DATE)
        self.set_title(title)
        self.set_subject(subject)
        self.set_author("FutureMobility Inc.")
        self.set_creator("FutureMobility mock data generator")
        self.set_producer("FutureMobility mock data generator")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.set_text_color(20, 110, 90)
        self.cell(0, 6, f"FutureMobility | {self.doc_title}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()}", align="C")

    def heading(self, text: str, size: int = 14) -> None:
        """A section heading on its own line."""
        self.set_font("Helvetica", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def paragraph(self, text: str) -> None:
        """Body text, wrapped."""
        self.set_font("Helvetica", "", 10)
        self.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def bullets(self, items: tuple[str, ...] | list[str]) -> None:
        """A bulleted list."""
        self.set_font("Helvetica", "", 10)
        for item in items:
            self.multi_cell(0, 5.5, f"- {item}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def key_values(self, rows: list[tuple[str, str]]) -> None:
        """A two-column label/value table, one pair per line."""
        for label, value in rows:
            self.set_font("Helvetica", "B", 10)
            self.cell(70, 7, label, border="B")
            self.set_font("Helvetica", "", 10)
            self.cell(0, 7, value, border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def grid(self, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        """A table with a shaded header row."""
        self.set_font("Helvetica", "B", 8)
        self.set_fill_color(225, 240, 235)
        for text, width in zip(header, widths, strict=True):
            self.cell(width, 7, text, border=1, fill=True)
        self.ln(7)
        self.set_font("Helvetica", "", 8)
        for row in rows:
            for text, width in zip(row, widths, strict=True):
                self.cell(width, 6.5, text, border=1)
            self.ln(6.5)
        self.ln(4)


def _usd(value: float) -> str:
    return f"USD {value:,.2f}"


def key_figures(model: VehicleModel) -> list[tuple[str, str]]:
    """The vehicles.csv figures as printed on the spec sheet (tests read them back)."""
    return [
        ("Model ID", model.model_id),
        ("Model name", model.model_name),
        ("Model year", str(model.model_year)),
        ("Body type", model.body_type),
        ("Battery capacity", f"{model.battery_capacity_kwh:.1f} kWh"),
        ("Range", f"{model.range_km} km"),
        ("DC fast charge 10-80%", f"{model.charge_time_fast_min} min"),
        ("Seats", str(model.seats)),
        ("Base price", _usd(model.base_price_usd)),
    ]


def spec_sheet(model: VehicleModel) -> FPDF:
    """Three-page technical specification sheet of one model."""
    pdf = _Doc(f"{model.model_name} Technical Specifications", f"Specification sheet {model.model_id}")
    pdf.add_page()
    pdf.heading(f"FutureMobility {model.model_name} {model.model_year}", 22)
    pdf.paragraph(f"Technical specification sheet for model {model.model_id}. The {model.model_name} is a "
                  f"{model.seats}-seat {model.body_type} on the {model.volts} V platform with a "
                  f"{model.battery_capacity_kwh:.1f} kWh battery.")
    pdf.heading("Key figures")
    pdf.key_values(key_figures(model))
    pdf.add_page()
    pdf.heading("Powertrain and charging")
    ac_hours = model.battery_capacity_kwh / model.onboard_ac_kw
    pdf.key_values([
        ("Motor power", f"{model.motor_kw} kW"), ("Torque", f"{model.torque_nm} Nm"),
        ("Acceleration 0-100 km/h", f"{model.accel_0_100_s:.1f} s"), ("Top speed", f"{model.top_speed_kmh} km/h"),
        ("Energy consumption", f"{model.wh_per_km:.1f} Wh/km"), ("System voltage", f"{model.volts} V"),
        ("Peak DC charging power", f"{model.max_dc_kw} kW"), ("Onboard AC charger", f"{model.onboard_ac_kw:.1f} kW"),
        ("AC charge 0-100%", f"{ac_hours:.1f} h"),
    ])
    km_per_15 = 15 / model.charge_time_fast_min * 0.7 * model.range_km
    pdf.paragraph(f"A 15-minute DC fast charge adds about {min(km_per_15, 0.7 * model.range_km):.0f} km of range. "
                  "Charging times assume a battery at 25 C and a charger that delivers the peak power.")
    pdf.add_page()
    pdf.heading("Dimensions, weight and warranty")
    length, width, height, wheelbase = model.dimensions_mm
    pdf.key_values([
        ("Length", f"{length} mm"), ("Width", f"{width} mm"), ("Height", f"{height} mm"),
        ("Wheelbase", f"{wheelbase} mm"), ("Curb weight", f"{model.curb_weight_kg} kg"),
        ("Cargo volume", f"{model.cargo_l} l"),
        ("Towing capacity", f"{model.towing_kg} kg" if model.towing_kg else "not rated for towing"),
    ])
    pdf.paragraph("Vehicle warranty: 4 years or 80,000 km. Battery warranty: 8 years or 160,000 km with at "
                  "least 70% state of health. Figures are preliminary and may change without notice.")
    return pdf


def brochure(models: list[VehicleModel]) -> FPDF:
    """Model comparison brochure: intro, comparison table, picks, ownership."""
    pdf = _Doc("Model Comparison", "FutureMobility line-up comparison brochure")
    pdf.add_page()
    pdf.heading("Find your FutureMobility", 22)
    pdf.paragraph(BROCHURE_INTRO)
    pdf.heading("The line-up at a glance")
    header = ["Model", "Year", "Body", "Battery kWh", "Range km", "Fast charge min", "Seats", "Price USD"]
    rows = [[m.model_name, str(m.model_year), m.body_type, f"{m.battery_capacity_kwh:.1f}", str(m.range_km),
             str(m.charge_time_fast_min), str(m.seats), f"{m.base_price_usd:,.2f}"] for m in models]
    pdf.grid(header, rows, [24, 14, 22, 22, 20, 26, 14, 32])
    pdf.add_page()
    pdf.heading("Which model fits you?")
    pdf.paragraph("Our picks from the table on page 1, by what matters most to you.")
    longest = max(models, key=lambda m: (m.range_km, m.model_id))
    quickest = min(models, key=lambda m: (m.charge_time_fast_min, m.model_id))
    cheapest = min(models, key=lambda m: (m.base_price_usd, m.model_id))
    roomiest = max(models, key=lambda m: (m.seats, m.cargo_l, m.model_id))
    value = min(models, key=lambda m: (m.base_price_usd / m.range_km, m.model_id))
    pdf.bullets([
        f"Longest range: {longest.model_name} with {longest.range_km} km.",
        f"Quickest fast charge: {quickest.model_name}, 10-80% in {quickest.charge_time_fast_min} min.",
        f"Most affordable: {cheapest.model_name} from {_usd(cheapest.base_price_usd)}.",
        f"Most room: {roomiest.model_name} with {roomiest.seats} seats.",
        f"Lowest price per km of range: {value.model_name} at {_usd(value.base_price_usd / value.range_km)} per km.",
    ])
    for body in sorted({m.body_type for m in models}):
        names = ", ".join(m.model_name for m in models if m.body_type == body)
        pdf.paragraph(f"{_BODY_LABELS.get(body, body.capitalize())}: {names}.")
    pdf.add_page()
    pdf.heading("Owning a FutureMobility")
    for title, text in BROCHURE_OWNERSHIP:
        pdf.heading(title, 12)
        pdf.paragraph(text)
    return pdf


def maintenance_sheet(title: str, sections: tuple[tuple[str, tuple[str, ...]], ...], with_costs: bool) -> FPDF:
    """A tips sheet: one section per heading, one page break halfway."""
    pdf = _Doc(title, f"Maintenance tips: {title}")
    pdf.add_page()
    pdf.heading(title, 20)
    half = (len(sections) + 1) // 2
    for i, (heading, tips) in enumerate(sections):
        if i == half:
            pdf.add_page()
        pdf.heading(heading, 13)
        pdf.bullets(tips)
    if with_costs:
        pdf.heading("Typical cost per service (USD)", 13)
        pdf.grid(["Service type", "Typical cost USD"], [list(row) for row in SERVICE_TABLE], [80, 50])
    return pdf


def generate_documents(models: list[VehicleModel], output: Output) -> DatasetReport:
    """Write the spec sheets, the brochure and the maintenance sheets."""
    report = DatasetReport("documents")
    jobs: list[tuple[str, FPDF]] = [(spec_key(m), spec_sheet(m)) for m in models]
    jobs.append((BROCHURE_KEY, brochure(models)))
    for stem, title, sections in MAINTENANCE_SHEETS:
        sheet = maintenance_sheet(title, sections, with_costs=stem == "service_schedule")
        jobs.append((f"raw/docs/maintenance/{stem}.pdf", sheet))
    for key, pdf in jobs:
        report.generated += 1
        if output.enabled:
            pdf.output(str(output.path(key)))
            report.files.append(output.entry(key, pdf.pages_count, pages=pdf.pages_count))
    return report
