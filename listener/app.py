"""Assemble a listener (or a reconcile run) from a ``ListenerConfig``; nothing else lives here.

The store must match the source: the Kafka source names objects in the bucket,
the local source files in the landing folder. The catalog follows the mode
(SQLite when embedded, Nessie otherwise), chosen by the loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.source import SourceObject
from lakehouse.errors import PermanentError
from lakehouse.state import private_dir

from ingestion.storage import LocalObjectStore, ObjectStore, open_store
from listener.config import ListenerConfig
from listener.dispatcher import Dispatcher, Loader
from listener.dlq import DeadLetterSink, open_dead_letters
from listener.metrics import ListenerMetrics
from listener.service import Listener
from listener.sources import EventSource


def open_source_store(config: ListenerConfig) -> ObjectStore:
    if config.source == "local":
        private_dir(config.settings.landing_dir)
        return LocalObjectStore(config.settings.landing_dir)
    return open_store(config.settings)


def _quarantiner(config: ListenerConfig, store: ObjectStore) -> Callable[[SourceObject, PermanentError], object]:
    """How the dispatcher quarantines a file the loader failed on in a way nobody classified."""

    def quarantine(obj: SourceObject, error: PermanentError) -> object:
        from ingestion.quarantine import quarantine as write_report

        return write_report(store, obj, error, None, config.settings)

    return quarantine


def open_loader(config: ListenerConfig, store: ObjectStore) -> Loader:
    from ingestion.loader import BronzeLoader  # imported late: unit tests run without the ingestion stack

    return BronzeLoader(config.settings, store=store)


def open_event_source(config: ListenerConfig) -> EventSource:
    if config.source == "local":
        from listener.sources.local import LocalSource

        return LocalSource(config)
    from listener.sources.kafka import KafkaSource

    return KafkaSource(config)


@dataclass
class Parts:
    """The pieces a listener or a reconcile run is made of; ``close()`` releases them."""

    config: ListenerConfig
    store: ObjectStore
    loader: Loader
    dead_letters: DeadLetterSink
    metrics: ListenerMetrics
    dispatcher: Dispatcher
    reconcile: Parts | None = field(default=None)  # the reconcile thread's own loader and dispatcher

    def close(self) -> None:
        self.dead_letters.close()
        close = getattr(self.loader, "close", None)
        if callable(close):
            close()
        if self.reconcile is not None:
            self.reconcile.close()


def build_parts(
    config: ListenerConfig,
    *,
    origin: str | None = None,
    loader: Loader | None = None,
    store: ObjectStore | None = None,
    dead_letters: DeadLetterSink | None = None,
    metrics: ListenerMetrics | None = None,
    listener_id: str = "",
) -> Parts:
    """Everything but the event source; the arguments let tests put in fakes."""
    store = store if store is not None else open_source_store(config)
    loader = loader if loader is not None else open_loader(config, store)
    if dead_letters is None:
        path = Path(config.dead_letter_path)
        dead_letters = open_dead_letters(config.settings, use_kafka=config.source == "kafka", path=path, client_id=config.client_id)
    metrics = metrics if metrics is not None else ListenerMetrics()
    dispatcher = Dispatcher(
        loader, store, dead_letters, metrics, bucket=config.settings.bucket, origin=origin or config.source, listener_id=listener_id,
        quarantine=_quarantiner(config, store),
    )
    return Parts(config, store, loader, dead_letters, metrics, dispatcher)


def build_listener(config: ListenerConfig, *, source: EventSource | None = None, **fakes: object) -> tuple[Listener, Parts]:
    """A ready-to-run listener and its parts (close the parts after ``run()`` returns).

    The reconcile thread gets a loader and a dead-letter sink of its own (the
    same fakes, when a test passes them): loaders are not shared between threads.
    """
    source = source if source is not None else open_event_source(config)
    listener_id = str(getattr(source, "client_id", config.client_id))
    parts = build_parts(config, listener_id=listener_id, **fakes)  # type: ignore[arg-type]
    if config.reconciles:
        shared = {k: v for k, v in fakes.items() if k not in ("metrics", "store")}
        parts.reconcile = build_parts(
            config, origin="replay", listener_id=listener_id, store=parts.store, metrics=parts.metrics, **shared  # type: ignore[arg-type]
        )
    reconcile = parts.reconcile
    listener = Listener(
        config, source, parts.dispatcher, parts.loader, parts.store, parts.metrics,
        reconcile_dispatcher=reconcile.dispatcher if reconcile else None, reconcile_loader=reconcile.loader if reconcile else None,
    )
    return listener, parts
