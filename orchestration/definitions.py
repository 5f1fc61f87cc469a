"""The code location: ``dagster dev -m orchestration.definitions`` (see docs/orchestration.md).

Only assembles, for the settings of this process (``LAKEHOUSE_*``, ``.env``). Needs
the dbt manifest: ``python -m orchestration.prepare`` builds it.
"""

from lakehouse.settings import get_settings
from orchestration.assemble import build_definitions
from orchestration.dbt import warm_up_dbt

defs = build_definitions(get_settings())


def warm_up_run_worker() -> None:
    """What a spare run worker does before its run arrives (orchestration/run_worker.py): start dbt."""
    warm_up_dbt(get_settings())
