"""Dagster code location (assets, dbt assets, sensors) — comes with the orchestration issue."""
