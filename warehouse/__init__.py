"""The SQL side of the lakehouse: DuckDB setup, the dbt project's runner, ``lakehouse query``."""
