"""``lakehouse status [--json]``: is it up, is it keeping up, what happened last.

Every probe is cheap and answers even when a part is down (then it says so):
the processes of ``lakehouse up``, the native services, the listener's
``/healthz``, each bronze table's current snapshot (metadata only), the
quarantine count and the last Dagster runs (the webserver's GraphQL API).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

import requests

from lakehouse.settings import Settings

RUNS_QUERY = """{ runsOrError(limit: 5) { ... on Runs { results {
  runId status startTime endTime tags { key value } } } } }"""


def _processes(settings: Settings) -> dict[str, Any]:
    record = settings.state_dir / "up.json"
    if not record.exists():
        return {}
    pids = json.loads(record.read_text())
    return {name: {"pid": pid, "running": os.path.exists(f"/proc/{pid}")} for name, pid in pids.items()}


def _services(settings: Settings) -> list[dict[str, Any]]:
    if settings.mode == "embedded":
        return []
    from dataclasses import asdict  # noqa: PLC0415

    from lakehouse.services.manager import ServiceManager  # noqa: PLC0415

    return [asdict(s) for s in ServiceManager(settings).status()]


def _listener(settings: Settings, port: int) -> dict[str, Any]:
    try:
        answer = requests.get(f"http://{settings.host}:{port}/healthz", timeout=2)
        return {"healthy": answer.ok, **answer.json()}
    except (requests.RequestException, ValueError) as exc:
        return {"healthy": False, "error": f"not answering on :{port} ({type(exc).__name__})"}


def _bronze(settings: Settings) -> list[dict[str, Any]]:
    from ingestion.catalog import open_catalog  # noqa: PLC0415 - heavy import, only for status
    from ingestion.specs import SPECS  # noqa: PLC0415

    try:
        catalog = open_catalog(settings)
    except Exception as exc:  # noqa: BLE001 - status reports an unreachable catalog, it does not crash
        return [{"error": f"catalog unreachable: {exc}"}]
    tables = []
    for spec in SPECS:
        identifier = spec.identifier(settings.bronze_namespace)
        row: dict[str, Any] = {"table": ".".join(identifier)}
        try:
            snapshot = catalog.load_table(identifier).current_snapshot()
        except Exception:  # noqa: BLE001 - a table not created yet
            snapshot = None
        if snapshot is not None:
            summary = snapshot.summary.additional_properties if snapshot.summary else {}
            row.update(snapshot_id=snapshot.snapshot_id, committed_at_ms=snapshot.timestamp_ms,
                       rows=int(summary.get("total-records", 0)), data_files=int(summary.get("total-data-files", 0)))
        tables.append(row)
    return tables


def _quarantined(settings: Settings) -> int | None:
    try:
        if settings.mode == "embedded":
            root = settings.landing_dir / settings.quarantine_prefix
            return sum(1 for _ in root.rglob("*.error.json")) if root.exists() else 0
        from lakehouse.services.minio import minio_client  # noqa: PLC0415

        objects = minio_client(settings).list_objects(settings.bucket, settings.quarantine_prefix, recursive=True)
        return sum(1 for o in objects if o.object_name.endswith(".error.json"))
    except Exception:  # noqa: BLE001 - storage down: unknown, not a crash
        return None


def _runs(settings: Settings, port: int) -> list[dict[str, Any]] | dict[str, str]:
    try:
        answer = requests.post(f"http://{settings.host}:{port}/graphql", json={"query": RUNS_QUERY}, timeout=5)
        return answer.json()["data"]["runsOrError"]["results"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        return {"error": f"Dagster not answering on :{port} ({type(exc).__name__})"}


def collect(settings: Settings, dagster_port: int = 3000, listener_port: int = 9108) -> dict[str, Any]:
    return {
        "mode": settings.mode, "state_dir": str(settings.state_dir),
        "processes": _processes(settings), "services": _services(settings),
        "listener": _listener(settings, listener_port), "bronze": _bronze(settings),
        "quarantined_files": _quarantined(settings), "dagster_runs": _runs(settings, dagster_port),
    }


def _print(report: dict[str, Any]) -> None:
    print(f"mode {report['mode']}, state in {report['state_dir']}")
    for name, p in report["processes"].items():
        print(f"  {name:<18} pid {p['pid']:<8} {'running' if p['running'] else 'gone'}")
    for s in report["services"]:
        print(f"  {s['name']:<18} {'healthy' if s['healthy'] else 'down'}")
    listener = report["listener"]
    print(f"listener: {'healthy' if listener['healthy'] else listener.get('error', 'unhealthy')}")
    print("bronze:")
    for t in report["bronze"]:
        print(f"  {t.get('table', t.get('error'))}: {t.get('rows', '-')} rows in {t.get('data_files', '-')} files")
    print(f"quarantined files: {report['quarantined_files']}")
    runs = report["dagster_runs"]
    if isinstance(runs, dict):
        print(f"dagster: {runs['error']}")
    else:
        print("last dagster runs:" + ("" if runs else " none"))
        for r in runs:
            print(f"  {r['runId'][:8]} {r['status']}")


def _ports(settings: Settings, dagster_port: int | None, listener_port: int | None) -> tuple[int, int]:
    """The ports asked for, else those of the running ``lakehouse up``, else the defaults."""
    record = settings.state_dir / "up-endpoints.json"
    running = json.loads(record.read_text()) if record.exists() else {}
    return (dagster_port or int(running.get("dagster_port", 3000)),
            listener_port or int(running.get("listener_port", 9108)))


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    report = collect(settings, *_ports(settings, args.dagster_port, args.listener_port))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print(report)
    return 0 if report["listener"]["healthy"] else 3


def add_status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")
    p.add_argument("--dagster-port", type=int, help="default: the running `lakehouse up`'s, else 3000")
    p.add_argument("--listener-port", type=int, help="default: the running `lakehouse up`'s, else 9108")
    p.set_defaults(func=status_command)


def register(subcommands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    subcommands.setdefault("status", ("services, listener health, bronze tables, quarantine, Dagster runs", add_status_arguments))
