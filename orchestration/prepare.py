"""Build the dbt manifest the code location loads: ``python -m orchestration.prepare``.

Run it after changing transformation/ and before ``dagster dev`` (``lakehouse up``
does). It is an explicit step on purpose: importing the definitions never runs dbt.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

from dagster_dbt import DbtProject

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings, get_settings
from orchestration.dbt import environment
from orchestration.dbt_cli import run_target_path
from orchestration.project import dbt_project
from orchestration.resources import dbt_env, dbt_resource

log = logging.getLogger(__name__)


def prepare(settings: Settings, target_path: Path | str = "target") -> DbtProject:
    """Run ``dbt parse`` so ``<target_path>/manifest.json`` describes transformation/ as it is now.

    The parse state (``partial_parse.msgpack``, made with this lakehouse's profile)
    also seeds the runs' own target folder, so the first run after a change of
    transformation/ parses only what changed.
    """
    project = dbt_project(settings, target_path)
    with environment(dbt_env(settings)):
        invocation = dbt_resource(project).cli(["parse", "--quiet"], target_path=project.project_dir / project.target_path,
                                               raise_on_error=False)
    invocation.wait()
    if not invocation.is_successful() or not project.manifest_path.is_file():
        raise LakehouseError(f"dbt parse failed for {project.project_dir}: {invocation.get_error() or 'no manifest'}")
    parse_state = project.manifest_path.with_name("partial_parse.msgpack")
    if parse_state.is_file():
        runs = run_target_path(settings)
        runs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(parse_state, runs / parse_state.name)
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("--target-path", default="target", help="dbt target path (relative to transformation/)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        project = prepare(get_settings(), args.target_path)
    except LakehouseError as exc:
        print(f"prepare: {exc}", file=sys.stderr)
        return 1
    print(f"dbt manifest ready: {project.manifest_path} ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
