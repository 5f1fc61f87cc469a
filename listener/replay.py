"""Reconcile: list the store and load every object the ledger lacks.

The recovery from lost notifications (events dropped while MinIO's queue was
full, a topic that was recreated, a listener group that started too late) and
the way to ingest files that were in the bucket before the listener existed.
In local watch mode it is the start-up catch-up. It is idempotent: running it
twice, or while the listener runs, loads nothing twice (the ledger decides).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ingestion.source import SourceObject
from ingestion.storage import ObjectStore
from listener.dispatcher import BatchReport, Dispatcher, Loader

log = logging.getLogger(__name__)


class Progress(Protocol):
    def update(self, n: int) -> Any: ...

    def close(self) -> None: ...


@dataclass
class ReplayReport:
    """What a reconcile pass found and did."""

    prefix: str
    dry_run: bool
    listed: int = 0
    pending: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    batch: BatchReport = field(default_factory=BatchReport)
    complete: bool = True

    def summary(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "dry_run": self.dry_run,
            "listed": self.listed,
            "pending": len(self.pending),
            "held_back": len(self.held),
            "loaded": self.batch.count("loaded"),
            "duplicate": self.batch.count("duplicate"),
            "quarantined": self.batch.count("quarantined"),
            "failed": self.batch.count("failed"),
            "rows": self.batch.rows,
            "complete": self.complete,
        }


def split_batches(objects: Iterable[SourceObject], max_files: int, max_bytes: int) -> Iterator[list[SourceObject]]:
    """Consecutive groups of at most ``max_files`` files and (unless one file is larger) ``max_bytes``."""
    batch: list[SourceObject] = []
    size = 0
    for obj in objects:
        if batch and (len(batch) >= max_files or size + obj.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(obj)
        size += obj.size
    if batch:
        yield batch


def reconcile(
    store: ObjectStore,
    loader: Loader,
    dispatcher: Dispatcher,
    prefix: str,
    *,
    dry_run: bool = False,
    max_files: int = 500,
    max_bytes: int = 256 * 1024 * 1024,
    hold: Callable[[str], bool] | None = None,
    progress: Callable[[int], Progress] | None = None,
    stop: Callable[[], bool] | None = None,
) -> ReplayReport:
    """Load what the ledger lacks under ``prefix``, in listener-sized batches.

    Args:
        hold: keys the caller will deliver itself later (files still being
            written in watch mode); they are skipped, not loaded half-written.
        progress: a factory ``total -> bar`` (tqdm) for interactive use.
        stop: checked between batches; a stopped pass reports ``complete=False``.

    Raises:
        RetryableError: storage or catalog down. Rerunning is safe.
    """
    report = ReplayReport(prefix=prefix, dry_run=dry_run)
    listed = [o for o in store.list(prefix) if not o.key.endswith("/")]
    report.listed = len(listed)
    bar = progress(len(listed)) if progress else None
    try:
        for chunk in split_batches(listed, max_files, max_bytes):
            if stop is not None and stop():
                report.complete = False
                break
            _reconcile_chunk(chunk, loader, dispatcher, report, hold)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    log.info("reconcile %s: %s", prefix, report.summary())
    return report


def _reconcile_chunk(
    chunk: Sequence[SourceObject], loader: Loader, dispatcher: Dispatcher, report: ReplayReport, hold: Callable[[str], bool] | None
) -> None:
    pending = loader.pending(chunk)
    if hold is not None:
        held = {o.key for o in pending if hold(o.key)}
        report.held += sorted(held)
        pending = [o for o in pending if o.key not in held]
    report.pending += [o.key for o in pending]
    if pending and not report.dry_run:
        report.batch.merge(dispatcher.load_objects(pending))
