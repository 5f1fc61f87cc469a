"""The dataset registry: one declaration per bronze table.

Adding a dataset is one ``DatasetSpec`` in :data:`SPECS` (plus, at most, one
parser in :mod:`ingestion.parsers` for a new format). The listener routes by
:func:`route`; the pyiceberg loader and the PySpark bulk loaders read schema,
partitioning and parser options from here, so nothing is declared twice.

Key patterns use a small glob: ``**`` matches anything (``/`` included), ``*``
anything but ``/``, ``{a,b}`` alternatives. The first matching spec wins.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, Transform, YearTransform

from ingestion.schema import (
    BOOLEAN,
    DATE,
    DOUBLE,
    INT,
    STRING,
    TIMESTAMPTZ,
    columns,
    list_of,
    money,
    struct,
)

FORMATS = ("csv", "json", "pdf")
_TRANSFORMS: dict[str, Transform] = {
    "identity": IdentityTransform(),
    "day": DayTransform(),
    "month": MonthTransform(),
    "year": YearTransform(),
}


@dataclass(frozen=True)
class ParserOptions:
    """Reader options; defaults fit the source data contract (DESIGN.md section 4)."""

    delimiter: str = ","
    quote_char: str = '"'
    encoding: str = "utf-8"
    # PDF: a regex whose first group, searched in the file name, is the model id.
    model_id_pattern: str | None = None


@dataclass(frozen=True)
class Limits:
    """What one file may do to its table; a file beyond a limit is quarantined.

    They bound hostile input (a 5,000-field header, JSON whose keys are data, a
    100 MB line) so that no single file can widen a table for good or hold
    unbounded memory. Checked while reading, before the file changes anything.

    Attributes:
        max_new_columns: columns one file may add by schema evolution
            (beyond: ``schema_limit``, nothing added).
        max_depth: nesting of a JSON value, counting each object and array
            (beyond: ``schema_limit``).
        max_record_bytes: one CSV row (header included) or one JSON value, in
            bytes of text (beyond: ``record_too_large``). CSV blocks grow up to
            this size to hold a long row.
    """

    max_new_columns: int = 64
    max_depth: int = 32
    max_record_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        if self.max_new_columns < 0 or self.max_depth < 1 or self.max_record_bytes < 1 << 10:
            raise ValueError(f"limits out of range: {self}")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to land one dataset in its bronze table.

    Attributes:
        name: dataset name, used in logs and quarantine reports.
        table: table name; the namespace comes from ``settings.bronze_namespace``.
        patterns: key globs under ``raw/`` that belong to this dataset.
        format: a key of ``ingestion.parsers.PARSERS`` (csv, json, pdf).
        schema: the declared Iceberg schema, lineage columns included.
        partition_by: (column, transform) pairs; transform is identity/day/month/year.
        options: parser options.
        limits: what one file may add or hold (:class:`Limits`).
    """

    name: str
    table: str
    patterns: tuple[str, ...]
    format: str
    schema: Schema
    partition_by: tuple[tuple[str, str], ...] = ()
    options: ParserOptions = field(default_factory=ParserOptions)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"spec {self.name}: format {self.format!r} is not one of {FORMATS}")
        for column, transform in self.partition_by:
            if transform not in _TRANSFORMS:
                raise ValueError(f"spec {self.name}: unknown partition transform {transform!r}")
            self.schema.find_field(column)  # raises if the column is not declared

    def matches(self, key: str) -> bool:
        return any(_glob(p).fullmatch(key) for p in self.patterns)

    def identifier(self, namespace: str) -> tuple[str, str]:
        return (namespace, self.table)

    def partition_spec(self) -> PartitionSpec:
        """The partition spec against ``schema`` (the catalog re-maps ids on create)."""
        fields = []
        for offset, (column, transform) in enumerate(self.partition_by):
            source = self.schema.find_field(column)
            fields.append(
                PartitionField(source_id=source.field_id, field_id=1000 + offset,
                               transform=_TRANSFORMS[transform], name=f"{column}_{transform}")
            )
        return PartitionSpec(*fields)


@functools.lru_cache(maxsize=None)
def _glob(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "{":
            end = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


CSV_SUFFIX = "{csv,csv.gz}"
JSON_SUFFIX = "{json,json.gz,jsonl,jsonl.gz}"

SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="ecoride_vehicles",
        table="ecoride_vehicles",
        patterns=(f"raw/ecoride/vehicles/**.{CSV_SUFFIX}",),
        format="csv",
        schema=columns(
            model_id=STRING, model_name=STRING, model_year=INT, body_type=STRING,
            battery_capacity_kwh=DOUBLE, range_km=INT, charge_time_fast_min=INT, seats=INT,
            base_price_usd=money(),
        ),
    ),
    DatasetSpec(
        name="ecoride_customers",
        table="ecoride_customers",
        patterns=(f"raw/ecoride/customers/**.{CSV_SUFFIX}",),
        format="csv",
        schema=columns(
            customer_id=STRING, first_name=STRING, last_name=STRING, email=STRING, phone=STRING,
            city=STRING, state=STRING, country=STRING, signup_date=DATE, birth_year=INT,
        ),
    ),
    DatasetSpec(
        name="ecoride_sales",
        table="ecoride_sales",
        patterns=(f"raw/ecoride/sales/**.{CSV_SUFFIX}",),
        format="csv",
        schema=columns(
            sale_id=STRING, customer_id=STRING, vehicle_id=STRING, model_id=STRING, sale_date=DATE,
            sale_price_usd=money(), discount_usd=money(), payment_method=STRING, dealership=STRING,
            state=STRING,
        ),
        # Queries and silver rebuilds go by month of sale; a month is a few MB.
        partition_by=(("sale_date", "month"),),
    ),
    DatasetSpec(
        name="ecoride_product_reviews",
        table="ecoride_product_reviews",
        patterns=(f"raw/ecoride/reviews/**.{JSON_SUFFIX}",),
        format="json",
        schema=columns(
            review_id=STRING, model_id=STRING, customer_id=STRING, rating=INT, title=STRING,
            review_text=STRING, review_date=DATE, verified_purchase=BOOLEAN, helpful_votes=INT,
            tags=list_of(STRING),
        ),
    ),
    DatasetSpec(
        name="chargenet_stations",
        table="chargenet_stations",
        patterns=(f"raw/chargenet/stations/**.{JSON_SUFFIX}",),
        format="json",
        schema=columns(
            station_id=STRING, name=STRING, operator=STRING,
            location=struct(latitude=DOUBLE, longitude=DOUBLE, address=STRING, city=STRING, state=STRING),
            charger_type=STRING, num_ports=INT, max_power_kw=DOUBLE, opened_date=DATE, status=STRING,
        ),
    ),
    DatasetSpec(
        name="chargenet_charging_sessions",
        table="chargenet_charging_sessions",
        patterns=(f"raw/chargenet/sessions/**.{JSON_SUFFIX}",),
        format="json",
        schema=columns(
            session_id=STRING, station_id=STRING, vehicle_id=STRING, customer_id=STRING,
            start_time=TIMESTAMPTZ, end_time=TIMESTAMPTZ, energy_kwh=DOUBLE, cost_usd=money(10),
            payment_method=STRING, port_number=INT,
        ),
        partition_by=(("start_time", "month"),),
    ),
    DatasetSpec(
        name="vehicle_health_logs",
        table="vehicle_health_logs",
        patterns=(f"raw/vehicle_health/**.{JSON_SUFFIX}",),
        format="json",
        schema=columns(
            record_id=STRING, vehicle_id=STRING, model_id=STRING, recorded_at=TIMESTAMPTZ,
            odometer_km=DOUBLE,
            battery=struct(state_of_health_pct=DOUBLE, cycle_count=INT, temperature_c=DOUBLE, voltage_v=DOUBLE),
            performance=struct(efficiency_wh_per_km=DOUBLE, motor_temp_c=DOUBLE, regen_efficiency_pct=DOUBLE),
            service_flags=list_of(STRING),
            maintenance_log=list_of(struct(date=DATE, service_type=STRING, cost_usd=money(10), notes=STRING)),
        ),
        partition_by=(("recorded_at", "month"),),
    ),
    DatasetSpec(
        name="product_documents",
        table="product_documents",
        # <doc_type> is the folder right under raw/docs/.
        patterns=("raw/docs/*/**.{pdf,PDF}",),
        format="pdf",
        schema=columns(doc_type=STRING, doc_name=STRING, model_id=STRING, page_number=INT, text=STRING),
        partition_by=(("doc_type", "identity"),),
        # Spec sheets are named after the model (raw/docs/specs/FM-AURORA.pdf); other
        # documents may carry a model id in their name (..._FM-AURORA_...).
        options=ParserOptions(model_id_pattern=r"(FM-[A-Z0-9]+)"),
    ),
)

SPECS_BY_NAME: dict[str, DatasetSpec] = {s.name: s for s in SPECS}


def route(key: str) -> DatasetSpec | None:
    """The spec whose pattern matches the decoded object key, or None (quarantine it)."""
    for spec in SPECS:
        if spec.matches(key):
            return spec
    return None


def specs_under(prefixes: tuple[str, ...]) -> list[DatasetSpec]:
    """Specs with a pattern that starts under one of ``prefixes`` (bulk loaders)."""
    return [s for s in SPECS if any(p.startswith(prefixes) for p in s.patterns)]
