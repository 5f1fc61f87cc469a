"""``lakehouse quarantine list|retry`` and ``lakehouse maintain``.

Registered into :data:`lakehouse.cli.SUBCOMMANDS` by :func:`register`.

* ``quarantine list [--all] [--json]``: the quarantined object versions the
  ledger remembers (reconcile, replay ticks and restarts skip them), with
  reasons; ``--all`` adds versions replaced or deleted since (history).
* ``quarantine retry [KEY...]``: load the current quarantined versions again on
  purpose (all, or the named keys).
* ``maintain [--table T]``: compact small data files, expire old snapshots,
  remove orphan files (see :mod:`ingestion.maintenance`).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lakehouse.errors import LakehouseError, PermanentError
from lakehouse.settings import Settings

Register = dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]


def quarantined_now(settings: Settings) -> list[dict[str, Any]]:
    """Quarantined (key, etag) pairs that nothing superseded (no later load, no empty record).

    ``current`` says whether that version is still the object under its key.
    """
    from ingestion import ledger
    from ingestion.catalog import open_catalog
    from ingestion.outcomes import EMPTY, QUARANTINED, OutcomeLog
    from ingestion.specs import SPECS
    from ingestion.storage import open_store

    store = open_store(settings)

    catalog = open_catalog(settings)
    index = OutcomeLog(catalog, settings.bronze_namespace).index()
    latest: dict[tuple[str, str], Any] = {}
    for pair, outcomes in index.by_pair.items():
        if any(o.outcome == EMPTY for o in outcomes):
            continue
        bad = [o for o in outcomes if o.outcome == QUARANTINED]
        if bad:
            latest[pair] = max(bad, key=lambda o: o.recorded_at)
    by_table: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair, outcome in latest.items():
        if outcome.table_name:
            by_table[outcome.table_name].append(pair)
    tables = {spec.table for spec in SPECS}
    for name, pairs in by_table.items():
        if name in tables and catalog.table_exists((settings.bronze_namespace, name)):
            for pair in ledger.loaded(catalog.load_table((settings.bronze_namespace, name)), pairs):
                latest.pop(pair, None)  # retried and loaded since
    return [{"key": o.source_key, "etag": o.source_etag, "table": o.table_name, "reason": o.reason,
             "message": o.message, "recorded_at": o.recorded_at.isoformat(), "current": _is_current(store, o)}
            for o in sorted(latest.values(), key=lambda o: (o.source_key, o.recorded_at))]


def _is_current(store: Any, outcome: Any) -> bool:
    """Is the quarantined version still the object under its key (not replaced or deleted since)?"""
    try:
        return bool(store.stat(outcome.source_key).etag == outcome.source_etag)
    except PermanentError:
        return False


def _list(args: argparse.Namespace, settings: Settings) -> int:
    entries = [e for e in quarantined_now(settings) if args.all or e["current"]]
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    for entry in entries:
        print(f"{entry['key']}  {entry['reason']}  {entry['etag'][:12]}  {entry['recorded_at']}")
        print(f"    {entry['message']}")
    print(f"{len(entries)} quarantined")
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.loader import BronzeLoader

    entries = [e for e in quarantined_now(settings) if e["current"]]
    wanted = set(args.keys)
    if wanted - {e["key"] for e in entries}:
        raise LakehouseError(f"not quarantined: {', '.join(sorted(wanted - {e['key'] for e in entries}))}"
                             " (see `lakehouse quarantine list`)")
    loader = BronzeLoader(settings)
    objects, gone = [], []
    for key in sorted({e["key"] for e in entries if not wanted or e["key"] in wanted}):
        try:
            objects.append(loader.store.stat(key))
        except PermanentError:
            gone.append(key)
    outcomes = loader.load(objects, retry_quarantined=True) if objects else []
    rows = [{"key": o.key, "outcome": o.outcome, "rows": o.rows, "reason": o.error.reason if o.error else None}
            for o in outcomes] + [{"key": k, "outcome": "gone", "rows": 0, "reason": "object_missing"} for k in gone]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['key']}: {row['outcome']}" + (f" ({row['reason']})" if row["reason"] else f", {row['rows']} rows"))
    return 0 if all(r["outcome"] in ("loaded", "duplicate") for r in rows) else 2


def _maintain(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.catalog import open_catalog
    from ingestion.maintenance import DEFAULT_TARGET_BYTES, MaintenanceOptions, maintain

    options = MaintenanceOptions(
        target_bytes=int(args.target_mb * (1 << 20)) if args.target_mb else DEFAULT_TARGET_BYTES,
        retain_last=args.retain_last,
        max_snapshots=args.max_snapshots,
        expire_older_than=timedelta(hours=args.expire_older_than),
        orphan_older_than=timedelta(hours=args.orphan_older_than),
    )
    reports = maintain(open_catalog(settings), settings.bronze_namespace, table=args.table,
                       nessie=settings.mode != "embedded", options=options)
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
        return 0
    for r in reports:
        print(f"{r.table}: data files {r.data_files_before} -> {r.data_files_after} ({r.files_rewritten} rewritten "
              f"into {r.files_written}, {r.rows_rewritten} rows), {r.snapshots_expired} snapshots expired, "
              f"{r.orphans_removed} orphan files removed" + (f"; skipped: {', '.join(r.skipped)}" if r.skipped else ""))
    return 0


def add_quarantine_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="quarantined object versions (skipped by replay and restarts)")
    listing.add_argument("--all", action="store_true", help="also versions replaced or deleted since")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    retry = actions.add_parser("retry", help="load quarantined files again on purpose (all, or the named keys)")
    retry.add_argument("keys", nargs="*", metavar="KEY")
    retry.add_argument("--json", action="store_true")
    retry.set_defaults(func=_retry)


def add_maintain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", help="one bronze table (default: all, and the outcome log)")
    p.add_argument("--target-mb", type=float, help="compacted file size (default 128)")
    p.add_argument("--retain-last", type=int, default=5, help="snapshots always kept (default 5)")
    p.add_argument("--expire-older-than", type=float, default=24.0, metavar="HOURS",
                   help="expire snapshots older than this (default 24)")
    p.add_argument("--max-snapshots", type=int, default=100,
                   help="expire younger snapshots too beyond this many (default 100; see docs/ingestion.md)")
    p.add_argument("--orphan-older-than", type=float, default=24.0, metavar="HOURS",
                   help="remove unreferenced files older than this (default 24)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_maintain)


def register(subcommands: Register) -> None:
    """Add ``quarantine`` and ``maintain`` to the ``lakehouse`` command's table."""
    subcommands.setdefault("quarantine", ("list or retry quarantined files", add_quarantine_arguments))
    subcommands.setdefault("maintain", ("compact bronze data files, expire snapshots, remove orphan files",
                                        add_maintain_arguments))
