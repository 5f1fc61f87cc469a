"""The ``lakehouse`` command.

    lakehouse services up [NAME...]       build/fetch (first time), start, health-check, configure
    lakehouse services down [NAME...]     stop exactly the processes we started
    lakehouse services status [--json]
    lakehouse services logs NAME [-n N] [-f]
    lakehouse mc ARGS...                  MinIO client with alias `local` set to our MinIO

Other subcommands (listen, replay, ...) are registered by their packages through
:data:`SUBCOMMANDS`, so this module stays an index.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import quote

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings, get_settings

# name -> (help, function that adds arguments and sets `func`); filled by other packages.
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}

# The one home of the CLI: every part that has commands lists its module here, and
# that module's ``register(subcommands)`` adds them. The modules never import this
# one (the table is passed in), so there is no import cycle.
COMMAND_MODULES: tuple[str, ...] = (
    "lakehouse.stack",    # up, down
    "lakehouse.status",   # status
    "lakehouse.drop",     # drop
    "listener.cli",       # listen, replay
    "ingestion.cli",      # quarantine, maintain
    "warehouse.cli",      # transform, query
)


def _services_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from lakehouse.services.manager import ServiceManager

    manager = ServiceManager(settings)
    names = getattr(args, "names", None) or None
    if args.action == "up":
        print(f"starting {', '.join(names or ('kafka', 'minio', 'nessie'))} (state in {settings.services_dir}) ...", flush=True)
        started = time.monotonic()
        statuses = manager.up(names)
        _print_status(statuses)
        print(f"up in {time.monotonic() - started:.1f}s")
    elif args.action == "down":
        stopped = manager.down(names)
        print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    elif args.action == "status":
        statuses = manager.status()
        if args.json:
            print(json.dumps([asdict(s) for s in statuses], indent=2))
        else:
            _print_status(statuses)
        return 0 if all(s.healthy for s in statuses) else 3
    elif args.action == "logs":
        return _logs(manager, args)
    return 0


def _print_status(statuses: list) -> None:  # noqa: ANN001
    for s in statuses:
        state = "healthy" if s.healthy else ("running, not answering" if s.pid else "stopped")
        print(f"  {s.name:<7} {state:<22} pid {s.pid or '-':<8} {s.endpoint}")


def _logs(manager, args: argparse.Namespace) -> int:  # noqa: ANN001
    svc = manager.services.get(args.name)
    if svc is None:
        raise LakehouseError(f"unknown service {args.name!r}")
    cmd = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [str(svc.process.log_file)]
    return subprocess.call(cmd)


def mc_environment(settings: Settings) -> dict[str, str]:
    """Environment that gives ``mc`` an alias ``local`` for our MinIO, without a config file."""
    scheme, _, hostport = settings.s3_endpoint.partition("://")
    user, secret = quote(settings.s3_access_key, safe=""), quote(settings.s3_secret_key, safe="")
    return dict(os.environ, MC_HOST_local=f"{scheme}://{user}:{secret}@{hostport}", MC_CONFIG_DIR=str(settings.services_dir / "mc"))


def _mc_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from lakehouse.services.artifacts import mc_binary

    return subprocess.call([str(mc_binary(settings.cache_dir)), *args.mc_args], env=mc_environment(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description="FutureMobility lakehouse")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    services = sub.add_parser("services", help="run MinIO, Kafka and Nessie natively")
    actions = services.add_subparsers(dest="action", required=True)
    for action in ("up", "down"):
        p = actions.add_parser(action, help=f"{action} all services or the named ones")
        p.add_argument("names", nargs="*", metavar="NAME", help="kafka, minio, nessie (default: all)")
    status = actions.add_parser("status", help="which services run and answer (exit 3 if any does not)")
    status.add_argument("--json", action="store_true")
    logs = actions.add_parser("logs", help="show a service's log")
    logs.add_argument("name")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    services.set_defaults(func=_services_cmd)

    mc = sub.add_parser("mc", help="run the MinIO client with alias `local` pointing at our MinIO")
    mc.add_argument("mc_args", nargs=argparse.REMAINDER)
    mc.set_defaults(func=_mc_cmd)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(SUBCOMMANDS)
    for name, (help_text, add) in SUBCOMMANDS.items():
        add(sub.add_parser(name, help=help_text))
    return parser


# Commands whose arguments belong to another tool, and the attribute that receives them verbatim.
PASSTHROUGH = {"mc": "mc_args", "transform": "dbt_args"}


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``(what argparse parses, what goes verbatim to the other tool or None)``.

    argparse's ``REMAINDER`` does not take a first argument that looks like an option
    (``lakehouse transform --select gold+`` failed with "unrecognized arguments"), so
    everything after a pass-through command is split off here. A leading ``--`` is
    dropped; ``-h``/``--help`` alone stays ours.
    """
    for i, arg in enumerate(argv):
        if arg.startswith("-"):
            continue  # our global options take no value: the first other word is the command
        rest = argv[i + 1:]
        if arg not in PASSTHROUGH or rest in (["-h"], ["--help"]):
            return argv, None
        return argv[:i + 1], rest[1:] if rest[:1] == ["--"] else rest
    return argv, None


def main(argv: list[str] | None = None) -> int:
    ours, passed = split_passthrough(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ours)
    if passed is not None:
        setattr(args, PASSTHROUGH[args.command], passed)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        return int(args.func(args, get_settings()) or 0)
    except LakehouseError as exc:
        print(f"lakehouse: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
