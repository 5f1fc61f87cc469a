"""MinIO notifications from Kafka / Redpanda, acknowledged only after they are loaded.

The consumer never auto-commits. A delivery's token is ``(epoch, partition,
offset)``; the epoch changes at every rebalance, and after a rebalance every
assigned partition is rewound to its committed offset before anything else is
polled. So whatever was polled before the rebalance and not yet acknowledged is
delivered again (to us or to the partition's new owner), and the listener drops
the old deliveries instead of acknowledging them.

The rewind is not optional: kafka-python 3 keeps the fetch position of a
partition that stays assigned across a rebalance (``assign_from_subscribed``),
so dropped deliveries would otherwise never come back and the next commit
would skip them.

kafka-python 3 runs the group protocol on its own IO thread and calls the
rebalance listener there; blocking consumer calls (commit, committed) are
forbidden in it, so the listener only bumps the epoch and asks for a rewind,
which the loop thread performs in its next ``poll``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, IllegalStateError, KafkaError

from lakehouse.errors import LakehouseError, PermanentError, RetryableError
from listener.config import ListenerConfig
from listener.events import ObjectCreated, parse_notification
from listener.sources import Delivery

log = logging.getLogger(__name__)

COMMIT_TIMEOUT_MS = 5_000


class Token(NamedTuple):
    epoch: int
    partition: TopicPartition
    offset: int


def decode(payload: bytes | None) -> tuple[tuple[ObjectCreated, ...], int, str | None]:
    """``(object-created events, number of other records, error)`` of one message.

    Never raises: a message that cannot be read (a tombstone's ``None``
    included) is returned with its error, dead-lettered as ``bad_event`` and
    acknowledged like any other, so it cannot crash the listener on every restart.
    """
    try:
        records = list(parse_notification(payload))
    except PermanentError as exc:
        return (), 0, str(exc)
    except Exception as exc:  # noqa: BLE001 - a payload the parser did not foresee is still just a bad event
        log.warning("unforeseen error decoding a message: %r", exc)
        return (), 0, f"not a MinIO notification: {type(exc).__name__}: {exc}"
    events = tuple(r for r in records if isinstance(r, ObjectCreated))
    return events, len(records) - len(events), None


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.source.new_epoch()
        log.info("partitions revoked: %s", _names(revoked))

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Rewind only now: blocking calls in the middle of the join derail it.
        self.source.new_epoch(rewind=True)
        log.info("partitions assigned: %s", _names(assigned) or "none (more instances than partitions)")


def _names(partitions: Any) -> str:
    return ", ".join(sorted(f"{tp.topic}-{tp.partition}" for tp in partitions or ()))


class KafkaSource:
    """A consumer in ``settings.consumer_group`` on ``settings.events_topic``.

    Hazard: kafka-python consumers are not thread-safe; every method must be
    called from the listener's loop thread.
    """

    name = "kafka"

    def __init__(self, config: ListenerConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.consumer: KafkaConsumer | None = None
        self._lock = threading.Lock()  # the rebalance listener runs on kafka's IO thread
        self._epoch = 0
        self._rewind_needed = False
        self._uncommitted: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._rebalancing_since: float | None = None
        self.client_id = f"{config.client_id}-{socket.gethostname()}-{os.getpid()}"

    def start(self) -> None:
        s = self.settings
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap,
                group_id=s.consumer_group,
                client_id=self.client_id,
                enable_auto_commit=False,
                auto_offset_reset=self.config.auto_offset_reset,
                max_poll_records=self.config.max_batch_files,
                session_timeout_ms=self.config.session_timeout_ms,
                heartbeat_interval_ms=max(1000, self.config.session_timeout_ms // 4),
                request_timeout_ms=max(30_000, self.config.session_timeout_ms + 5000),
                reconnect_backoff_max_ms=5_000,
            )
            # Know the partitions before joining: a group leader without the topic's
            # metadata assigns nothing and only notices at the next metadata refresh.
            if not self.consumer.partitions_for_topic(s.events_topic):
                self.close()
                raise RetryableError(f"topic {s.events_topic} does not exist yet (`lakehouse services up` creates it)")
            self.consumer.subscribe([s.events_topic], listener=_Rebalance(self))
        except KafkaError as exc:
            self.close()
            raise RetryableError(f"Kafka at {s.kafka_bootstrap} is unreachable: {exc}") from exc
        log.info("consuming %s as group %s (client %s)", s.events_topic, s.consumer_group, self.client_id)

    def new_epoch(self, *, rewind: bool = False) -> None:
        """Called at every rebalance: old deliveries become invalid; after an assignment
        (``rewind``), the next poll first rewinds to the committed offsets. Until
        then the group is rebalancing, which :meth:`_restart_if_rejoin_stuck` times."""
        with self._lock:
            self._epoch += 1
            self._rewind_needed = self._rewind_needed or rewind
            self._rebalancing_since = None if rewind else time.monotonic()

    def poll(self, timeout_s: float) -> list[Delivery]:
        assert self.consumer is not None, "start() first"
        self._restart_if_rejoin_stuck()
        epoch = self._epoch
        try:
            if self._rewind_needed:
                self._rewind()
            batches = self.consumer.poll(timeout_ms=int(timeout_s * 1000))
            if self._epoch != epoch:  # rebalanced during this poll: refetch after the rewind
                if self._rewind_needed:
                    self._rewind()
                return []
        except KafkaError as exc:
            raise RetryableError(f"polling {self.settings.events_topic} failed: {exc}") from exc
        deliveries = []
        with self._lock:
            for tp, records in sorted(batches.items()):
                if records:
                    self._positions[tp] = records[-1].offset + 1
        for tp, records in sorted(batches.items()):
            for record in records:
                events, others, error = decode(record.value)
                payload = record.value if error else None
                published = record.timestamp / 1000 if (record.timestamp or 0) > 0 else None
                deliveries.append(Delivery(events, Token(epoch, tp, record.offset), others, error, payload, published))
        return deliveries

    def _restart_if_rejoin_stuck(self) -> None:
        """Recreate the consumer when a rebalance has not assigned anything for too long.

        Seen on a fresh Kafka 4 broker with kafka-python 3.0: partitions revoked
        right after the first assignment and never assigned again, while events
        waited. A new consumer (new member id, LeaveGroup for the old one) joins
        cleanly. Nothing is lost: unacknowledged events are redelivered from the
        committed offsets after the next assignment.
        """
        since = self._rebalancing_since
        if since is None or time.monotonic() - since < self.config.rejoin_timeout_s:
            return
        log.warning("group rebalance stuck for %.0fs with no partitions assigned; restarting the consumer",
                    time.monotonic() - since)
        self.close()  # commits what is loaded, if the group still takes commits
        with self._lock:
            self._uncommitted.clear()  # the rest is redelivered to whoever owns it next: no-ops
            self._positions.clear()
        self.new_epoch()
        self.start()

    def _rewind(self) -> None:
        """Restart every assigned partition from its committed offset (loop thread only)."""
        assert self.consumer is not None
        with self._lock:
            self._rewind_needed = False  # a rebalance during the rewind sets it again
            self._positions.clear()
        self.flush_commits()  # what is loaded but unacknowledged: fewer no-op reloads
        try:
            for tp in sorted(self.consumer.assignment() or ()):
                committed = self.consumer.committed(tp)
                if committed is not None:
                    self.consumer.seek(tp, committed)
                elif self.config.auto_offset_reset == "earliest":
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek_to_end(tp)
        except IllegalStateError:
            with self._lock:
                self._rewind_needed = True  # the assignment changed under us: again next poll
            return
        except KafkaError:
            with self._lock:
                self._rewind_needed = True
            raise
        log.info("rebalanced: unacknowledged events will be delivered again from the committed offsets")

    def valid(self, token: Any) -> bool:
        return bool(token.epoch == self._epoch)

    def commit(self, tokens: Sequence[Any]) -> None:
        with self._lock:
            for token in tokens:
                if token.epoch == self._epoch:
                    tp = token.partition
                    self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), token.offset + 1)
        self.flush_commits()

    def flush_commits(self) -> bool:
        """Commit what is loaded but not yet acknowledged; False if that failed.

        A failure is logged, not raised: the offsets stay queued for the next
        attempt, and if the process dies first the events are delivered again,
        which the ledger turns into no-ops.
        """
        with self._lock:
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._uncommitted.items()}
        if not offsets or self.consumer is None:
            return True
        try:
            self.consumer.commit(offsets=offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on; the new owner starts from the last good commit.
            log.warning("offset commit rejected after a rebalance (%s); those events will be redelivered", exc)
            self._forget(offsets)
            return False
        except KafkaError as exc:
            log.warning("offset commit failed (%s); will retry with the next batch", exc)
            return False
        log.debug("committed %s", {f"{tp.topic}-{tp.partition}": o.offset for tp, o in offsets.items()})
        self._forget(offsets)
        return True

    def _forget(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        # Only what was sent: a later batch may have queued a higher offset meanwhile.
        with self._lock:
            for tp, committed in offsets.items():
                if self._uncommitted.get(tp) == committed.offset:
                    del self._uncommitted[tp]

    @property
    def pending_commits(self) -> int:
        return len(self._uncommitted)

    def hold(self, key: str) -> bool:
        return False

    def lag(self) -> dict[str, int]:
        if self.consumer is None:
            return {}
        result = {}
        for tp in self.consumer.assignment() or ():
            try:
                high = self.consumer.highwater(tp)
            except IllegalStateError:
                continue
            with self._lock:
                position = self._positions.get(tp)
            if high is not None and position is not None:
                result[f"{tp.topic}-{tp.partition}"] = max(0, high - position)
        return result

    def status(self) -> dict[str, Any]:
        assigned = self.consumer.assignment() if self.consumer is not None else set()
        return {
            "source": self.name,
            "group": self.settings.consumer_group,
            "client_id": self.client_id,
            "assigned": sorted(f"{tp.topic}-{tp.partition}" for tp in assigned or ()),
            "uncommitted_partitions": len(self._uncommitted),
        }

    def close(self) -> None:
        if self.consumer is None:
            return
        try:
            self.flush_commits()
            self.consumer.close(autocommit=False, timeout_ms=COMMIT_TIMEOUT_MS)
        except (KafkaError, LakehouseError) as exc:
            log.warning("closing the consumer: %s", exc)
        finally:
            self.consumer = None
