"""Where events come from: one small interface, a Kafka and a local (watchdog) backend.

The listener loop only talks to :class:`EventSource`, so batching, retries,
dead letters and offsets are written once for both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from listener.events import ObjectCreated


@dataclass(frozen=True)
class Delivery:
    """One unit a source hands over: the records of one message and how to acknowledge it.

    Attributes:
        events: the message's object-created records (not yet filtered by bucket/prefix).
        other_records: how many records were some other kind of event.
        token: opaque; give it back to :meth:`EventSource.commit` once every
            event of the delivery is in bronze or in quarantine.
        error: why the payload could not be read at all (it goes to the
            dead-letter topic as is), else ``None``.
        payload: the raw payload, kept only when ``error`` is set.
        published_at: when the broker received the message (epoch seconds), if known;
            the listener's own latency is measured from here.
    """

    events: tuple[ObjectCreated, ...]
    token: Any
    other_records: int = 0
    error: str | None = None
    payload: bytes | None = None
    published_at: float | None = None


class EventSource(Protocol):
    """An ordered stream of deliveries with explicit acknowledgement."""

    name: str

    def start(self) -> None:
        """Connect / start watching. Raises RetryableError while the backend is unreachable."""

    def poll(self, timeout_s: float) -> list[Delivery]:
        """Deliveries available within ``timeout_s`` (possibly none)."""

    def valid(self, token: Any) -> bool:
        """False once the delivery was taken back (a rebalance gave it to another instance)."""

    def commit(self, tokens: Sequence[Any]) -> None:
        """Acknowledge deliveries, in the order they were polled. Never raises for a
        broker hiccup: an unacknowledged delivery is only delivered again, and
        loading it again is a no-op."""

    def hold(self, key: str) -> bool:
        """True if the source will deliver ``key`` itself later (it is still being
        written), so a reconcile pass must not load it now."""

    def lag(self) -> dict[str, int]:
        """Events not yet polled, per partition (empty when the notion does not apply)."""

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for /healthz."""

    def close(self) -> None:
        """Release connections and threads; acknowledged work is flushed first."""
