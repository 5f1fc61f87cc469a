"""``python -m orchestration.dev``: the Dagster UI and daemon on this lakehouse, in one command.

Builds the dbt manifest (``orchestration.prepare``), points ``DAGSTER_HOME`` at
``<state_dir>/dagster`` (runs, ticks and the event log live beside the
warehouse, never in the user's home), then replaces itself with
``dagster dev -m orchestration.definitions``, which runs the webserver, the
daemon (sensors need it) and the code server. Ctrl-C stops all three.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings, get_settings
from orchestration.instance import dagster_home
from orchestration.prepare import prepare

def command(settings: Settings, port: int) -> list[str]:
    dagster = Path(sys.executable).parent / "dagster"
    return [str(dagster), "dev", "-m", "orchestration.definitions", "-h", settings.host, "-p", str(port)]


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the settings the code location must see pinned."""
    return {**os.environ, "DAGSTER_HOME": str(dagster_home(settings)), "LAKEHOUSE_MODE": settings.mode,
            "LAKEHOUSE_STATE_DIR": str(settings.state_dir), "DO_NOT_TRACK": "1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.dev", description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        prepare(settings)
    except LakehouseError as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 1
    argv_ = command(settings, args.port)
    print(f"Dagster UI on http://{settings.host}:{args.port} (DAGSTER_HOME={dagster_home(settings)})", flush=True)
    os.execve(argv_[0], argv_, environment(settings))
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
