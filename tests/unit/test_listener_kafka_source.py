"""The Kafka source's bookkeeping: typed deliveries, commits of loaded offsets only, rebalance epochs."""

from __future__ import annotations

import json
from types import SimpleNamespace

from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaTimeoutError

from lakehouse.settings import Settings
from listener.config import ListenerConfig
from listener.sources.kafka import KafkaSource, Token, decode

TP0, TP1 = TopicPartition("minio-events", 0), TopicPartition("minio-events", 1)


class FakeConsumer:
    def __init__(self, batches: dict | None = None, fail: list | None = None) -> None:
        self.batches = batches or {}
        self.fail = list(fail or [])
        self.commits: list[dict] = []
        self.committed_offsets: dict = {TP0: 3}
        self.seeks: list[tuple] = []
        self.closed = False
        self.during_poll = None  # e.g. a rebalance listener callback

    def poll(self, timeout_ms: int) -> dict:
        if self.during_poll is not None:
            self.during_poll()
        batches, self.batches = self.batches, {}
        return batches

    def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.seeks.append((tp, "beginning"))

    def commit(self, offsets: dict, timeout_ms: int) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.commits.append({tp: o.offset for tp, o in offsets.items()})

    def assignment(self) -> set:
        return {TP0, TP1}

    def highwater(self, tp: TopicPartition) -> int:
        return 10

    def close(self, autocommit: bool, timeout_ms: int) -> None:
        self.closed = True


def message(offset: int, *keys: str) -> SimpleNamespace:
    records = [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": k, "size": 1}}} for k in keys]
    return SimpleNamespace(offset=offset, value=json.dumps({"Records": records}).encode(), timestamp=1_700_000_000_000 + offset)


def source_with(consumer: FakeConsumer) -> KafkaSource:
    source = KafkaSource(ListenerConfig(settings=Settings(mode="native")))
    source.consumer = consumer  # type: ignore[assignment]
    return source


def test_decode_splits_created_records_from_others_and_reports_garbage() -> None:
    events, others, error = decode(json.dumps({"Records": [
        {"eventName": "s3:ObjectCreated:Copy", "s3": {"bucket": {"name": "b"}, "object": {"key": "raw%2Fa+b.csv"}}},
        {"eventName": "s3:ObjectRemoved:Delete", "s3": {"object": {"key": "x"}}},
    ]}).encode())
    assert [e.key for e in events] == ["raw/a b.csv"] and others == 1 and error is None
    assert decode(b"{{{")[2] is not None


def test_a_tombstone_or_garbage_message_is_a_delivery_with_an_error_not_an_exception() -> None:
    tombstone = SimpleNamespace(offset=4, value=None, timestamp=1_700_000_000_000)
    garbage = SimpleNamespace(offset=5, value=b"\x00\x01junk", timestamp=1_700_000_000_000)
    source = source_with(FakeConsumer({TP0: [tombstone, garbage, message(6, "raw%2Fa.csv")]}))
    got = source.poll(0.1)
    assert [(d.token.offset, bool(d.error), len(d.events)) for d in got] == [(4, True, 0), (5, True, 0), (6, False, 1)]
    assert "tombstone" in got[0].error and got[0].payload is None and got[1].payload == b"\x00\x01junk"


def test_each_message_is_one_delivery_with_all_its_records() -> None:
    source = source_with(FakeConsumer({TP0: [message(4, "raw%2Fa.csv", "raw%2Fb.csv")], TP1: [message(7, "raw%2Fc.csv")]}))
    got = source.poll(0.1)
    assert [(len(d.events), d.token.offset) for d in got] == [(2, 4), (1, 7)]
    assert got[0].published_at == 1_700_000_000.004
    assert source.lag() == {"minio-events-0": 5, "minio-events-1": 2}


def test_commit_acknowledges_the_next_offset_per_partition() -> None:
    consumer = FakeConsumer()
    source = source_with(consumer)
    source.commit([Token(0, TP0, 4), Token(0, TP0, 5), Token(0, TP1, 7)])
    assert consumer.commits == [{TP0: 6, TP1: 8}]


def test_deliveries_from_before_a_rebalance_are_invalid_and_never_committed() -> None:
    consumer = FakeConsumer()
    source = source_with(consumer)
    old = Token(0, TP0, 4)
    source.new_epoch()
    assert not source.valid(old)
    source.commit([old, Token(1, TP1, 2)])
    assert consumer.commits == [{TP1: 3}]


def test_a_rebalance_during_a_poll_rewinds_every_partition_to_its_committed_offset() -> None:
    consumer = FakeConsumer({TP0: [message(9, "raw%2Fa.csv")]})
    source = source_with(consumer)
    consumer.during_poll = lambda: source.new_epoch(rewind=True)  # the assignment callback, inside poll
    assert source.poll(0.1) == []  # what this poll fetched comes again from the committed offset
    assert sorted(consumer.seeks) == [(TP0, 3), (TP1, "beginning")]
    consumer.during_poll = None
    consumer.batches = {TP0: [message(3, "raw%2Fa.csv")]}
    assert [d.token.offset for d in source.poll(0.1)] == [3]


def test_a_rebalance_while_a_batch_loads_invalidates_it_and_rewinds_at_the_next_poll() -> None:
    consumer = FakeConsumer({TP0: [message(3, "raw%2Fa.csv")]})
    source = source_with(consumer)
    [delivery] = source.poll(0.1)
    source.new_epoch(rewind=True)  # on kafka's IO thread, while the loop was loading
    source.commit([delivery.token])
    assert consumer.commits == [] and not source.valid(delivery.token)
    source.poll(0.1)
    assert (TP0, 3) in consumer.seeks


def test_a_revocation_alone_invalidates_deliveries_but_waits_for_the_assignment_to_rewind() -> None:
    consumer = FakeConsumer({TP0: [message(3, "raw%2Fa.csv")]})
    source = source_with(consumer)
    consumer.during_poll = source.new_epoch  # revoked: the join is still under way
    assert source.poll(0.1) == []
    assert consumer.seeks == []


def test_a_commit_that_times_out_is_kept_and_sent_with_the_next_one() -> None:
    consumer = FakeConsumer(fail=[KafkaTimeoutError("broker down")])
    source = source_with(consumer)
    source.commit([Token(0, TP0, 4)])
    assert consumer.commits == [] and source.pending_commits == 1
    source.commit([Token(0, TP1, 1)])
    assert consumer.commits == [{TP0: 5, TP1: 2}]
    assert source.pending_commits == 0


def test_a_commit_rejected_by_a_rebalance_is_dropped() -> None:
    consumer = FakeConsumer(fail=[CommitFailedError("generation moved on")])
    source = source_with(consumer)
    source.commit([Token(0, TP0, 4)])
    assert source.pending_commits == 0


def test_close_flushes_pending_commits_then_closes_the_consumer() -> None:
    consumer = FakeConsumer(fail=[KafkaTimeoutError("blip")])
    source = source_with(consumer)
    source.commit([Token(0, TP0, 4)])
    source.close()
    assert consumer.commits == [{TP0: 5}] and consumer.closed and source.consumer is None


def test_offset_and_metadata_is_what_kafka_python_expects() -> None:
    assert OffsetAndMetadata(5, "", -1).offset == 5


def test_a_rebalance_stuck_without_assignment_restarts_the_consumer(monkeypatch) -> None:  # noqa: ANN001
    stuck = FakeConsumer()
    source = source_with(stuck)
    fresh = FakeConsumer()
    monkeypatch.setattr(source, "start", lambda: setattr(source, "consumer", fresh))
    source._uncommitted[TP0] = 5
    stuck.fail = [CommitFailedError("rebalancing")]  # the stuck group refuses the final commit

    source._rebalancing_since = 0.0  # revoked long ago, never assigned again
    source.poll(0.1)

    assert stuck.closed and source.consumer is fresh
    assert source._uncommitted == {}  # redelivered to the next owner instead (ledger no-ops)


def test_a_short_rebalance_leaves_the_consumer_alone() -> None:
    import time

    consumer = FakeConsumer()
    source = source_with(consumer)
    source._rebalancing_since = time.monotonic()
    source.poll(0.1)
    assert not consumer.closed and source.consumer is consumer
