"""The code location: ``dagster dev -m orchestration.definitions`` (see docs/orchestration.md).

Only assembles, for the settings of this process (``LAKEHOUSE_*``, ``.env``). Needs
the dbt manifest: ``python -m orchestration.prepare`` builds it.
"""

from lakehouse.settings import get_settings
from orchestration.assemble import build_definitions

defs = build_definitions(get_settings())
