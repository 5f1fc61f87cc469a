"""``lakehouse transform [dbt args]`` and ``lakehouse query [--json] SQL``.

Registered into :data:`lakehouse.cli.SUBCOMMANDS` by :func:`register`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from lakehouse.settings import Settings
from warehouse.dbt import dbt_target, publish, run_dbt
from warehouse.query import add_query_arguments


def add_transform_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dbt_args", nargs=argparse.REMAINDER,
        help="passed to `dbt build`, e.g. --select silver_ecoride_sales+ or --full-refresh",
    )
    p.set_defaults(func=transform_command)


def requested_target(dbt_args: list[str], default: str) -> str:
    """The target named by ``--target X``, ``--target=X`` or ``-t X``, else ``default``."""
    for i, arg in enumerate(dbt_args):
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
        if arg in ("--target", "-t") and i + 1 < len(dbt_args):
            return dbt_args[i + 1]
    return default


def transform_args(dbt_args: list[str], target: str) -> list[str]:
    """``build`` plus the user's arguments, with the target unless they name one."""
    named = requested_target(dbt_args, "") != ""
    return ["build", *dbt_args] if named else ["build", *dbt_args, "--target", target]


def transform_command(args: argparse.Namespace, settings: Settings) -> int:
    """dbt's exit code (1: a model or test failed, 2: dbt could not run); dbt prints why."""
    target = requested_target(args.dbt_args, dbt_target(settings))
    result = run_dbt(transform_args(args.dbt_args, target), settings)
    if result.returncode == 0 and target == "duckdb":
        path = publish(settings)
        if path is not None:
            print(f"published {path} for `lakehouse query`")
    return result.returncode


def register(subcommands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    """Add ``transform`` and ``query`` to the ``lakehouse`` command's table (passed in, see listener.cli.register)."""
    subcommands.setdefault("transform", ("run `dbt build` (silver and gold) on the configured target", add_transform_arguments))
    subcommands.setdefault("query", ("run SQL (DuckDB) over bronze, silver and gold", add_query_arguments))
