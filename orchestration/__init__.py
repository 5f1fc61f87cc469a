"""Dagster code location: bronze assets, dbt assets (silver, gold), the bronze sensor.

Load it with ``dagster dev -m orchestration.definitions`` after preparing the dbt
manifest (``python -m orchestration.prepare``); see docs/orchestration.md.
"""
