"""Dead letters: one JSON record per file (or message) the listener could not load.

The record says which object, why (a machine-readable ``reason`` from
:mod:`lakehouse.reasons`: ``unroutable_key``, ``parse_error``, ``object_missing``,
``bad_event``, ``unexpected``, ...), the exception, and the original event, so an operator can fix the cause and run
``lakehouse replay``. With a broker it goes to ``settings.dlq_topic`` keyed by
object key; in embedded mode, to a JSON Lines file.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from lakehouse import reasons
from lakehouse.errors import RetryableError
from lakehouse.settings import Settings
from lakehouse.state import open_private

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DeadLetter:
    """What the dead-letter topic receives (serialised as JSON)."""

    key: str
    bucket: str
    reason: str
    exception: str
    error: str
    etag: str = ""
    table: str | None = None
    event: Mapping[str, Any] | None = None
    origin: str = "kafka"  # kafka | local | replay
    listener: str = ""
    failed_at: str = ""

    def __post_init__(self) -> None:
        reasons.check(self.reason, reasons.PERMANENT_REASONS)

    @classmethod
    def from_exception(cls, exc: BaseException, **fields: Any) -> DeadLetter:
        """A dead letter whose reason, exception and error come from ``exc`` (an
        exception without a ``reason`` is ``unexpected``)."""
        cause = f" (caused by {type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ else ""
        reason = fields.pop("reason", None) or getattr(exc, "reason", None) or reasons.UNEXPECTED
        return cls(
            reason=str(reason),
            exception=f"{type(exc).__module__}.{type(exc).__name__}",
            error=f"{exc}{cause}",
            failed_at=datetime.now(timezone.utc).isoformat(),
            **fields,
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), default=str, ensure_ascii=False).encode("utf-8")


class DeadLetterSink(Protocol):
    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Deliver durably or raise RetryableError (the batch is then retried, unacknowledged)."""

    def close(self) -> None: ...


class KafkaDeadLetters:
    """Publishes to ``settings.dlq_topic``; waits for the broker's acknowledgement.

    The producer is created on first use, so a listener whose files are all
    good never opens a second connection.
    """

    def __init__(self, settings: Settings, client_id: str = "lakehouse-listener") -> None:
        self.settings = settings
        self.client_id = client_id
        self._producer: KafkaProducer | None = None

    def _open(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    client_id=f"{self.client_id}-dlq",
                    acks="all",
                    max_block_ms=int(SEND_TIMEOUT_S * 1000),
                    request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
                )
            except KafkaError as exc:
                raise RetryableError(f"cannot reach Kafka for dead letters: {exc}") from exc
        return self._producer

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        producer = self._open()
        try:
            futures = [producer.send(self.settings.dlq_topic, key=dl.key.encode("utf-8"), value=dl.to_json()) for dl in letters]
            producer.flush(timeout=SEND_TIMEOUT_S)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT_S)
        except KafkaError as exc:
            raise RetryableError(f"cannot publish dead letters to {self.settings.dlq_topic}: {exc}") from exc
        for dl in letters:
            log.warning("dead letter key=%s reason=%s topic=%s", json.dumps(dl.key, ensure_ascii=False), dl.reason, self.settings.dlq_topic)

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=SEND_TIMEOUT_S)
            except KafkaError as exc:
                log.warning("closing the dead-letter producer: %s", exc)
            self._producer = None


class FileDeadLetters:
    """Appends JSON Lines to a file: the dead-letter "topic" without a broker.

    The file holds raw event payloads: it is created 0600 in a 0700 folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        try:
            with self._lock, open_private(self.path) as handle:
                for dl in letters:
                    handle.write(dl.to_json() + b"\n")
        except OSError as exc:
            raise RetryableError(f"cannot append dead letters to {self.path}: {exc}") from exc
        for dl in letters:
            log.warning("dead letter key=%s reason=%s file=%s", json.dumps(dl.key, ensure_ascii=False), dl.reason, self.path)

    def close(self) -> None:
        pass


def open_dead_letters(settings: Settings, *, use_kafka: bool, path: Path, client_id: str = "lakehouse-listener") -> DeadLetterSink:
    """The topic when there is a broker, else the file."""
    if use_kafka:
        return KafkaDeadLetters(settings, client_id)
    return FileDeadLetters(path)
