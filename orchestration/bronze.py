"""The bronze Iceberg tables as external Dagster assets.

Bronze is written by the listener (and the Spark bulk loaders), not by Dagster,
so each table is an ``AssetSpec`` without a compute function: Dagster records its
materializations (from the bronze sensor) and draws it upstream of the dbt sources
that read it. Names come from the dataset registry, so a new dataset appears here
without an edit.
"""

from __future__ import annotations

import dagster as dg

from ingestion.specs import SPECS, DatasetSpec

BRONZE_GROUP = "bronze"
# The asset key prefix is the logical layer, not the configured namespace: tests
# load into `bronze_<suffix>` namespaces and the graph must not change with that.
BRONZE_PREFIX = "bronze"


def bronze_key(table: str) -> dg.AssetKey:
    """The asset key of a bronze table: ``["bronze", <table>]``."""
    return dg.AssetKey([BRONZE_PREFIX, table])


def bronze_tables() -> list[str]:
    """Every bronze table name, in registry order."""
    return [spec.table for spec in SPECS]


def _spec(dataset: DatasetSpec) -> dg.AssetSpec:
    patterns = ", ".join(f"`{p}`" for p in dataset.patterns)
    return dg.AssetSpec(
        key=bronze_key(dataset.table),
        group_name=BRONZE_GROUP,
        description=(
            f"Bronze Iceberg table `{BRONZE_PREFIX}.{dataset.table}`: every {dataset.format.upper()} file "
            f"landed under {patterns}, appended by the listener with lineage columns "
            "(`_source_key`, `_source_etag`, `_ingested_at`, `_rescued_data`). "
            "Materializations are recorded by `bronze_sensor` when a new snapshot appears."
        ),
        kinds={"iceberg", "python"},
        metadata={"dataset": dataset.name, "format": dataset.format},
    )


BRONZE_ASSETS: list[dg.AssetSpec] = [_spec(dataset) for dataset in SPECS]
