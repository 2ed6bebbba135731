"""The bulk changelog read (agents.bulk_restore) against the embedded broker: it applies exactly the
range Faust's recovery asks for, in order and in batches, and says what it stored when it stops early."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from faust.types import TP

from agents.bulk_restore import BulkRestoreOptions, read_changelogs
from config.broker import bootstrap_servers
from runtime.broker import EmbeddedBroker

TOPIC = "bulk-restore-changelog"


async def produce(broker: EmbeddedBroker, topic: str, partition: int, count: int, first: int = 0) -> None:
    """``count`` records keyed k<n> in batches of 100, every tenth a tombstone (a deleted key)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url), linger_ms=50)
    await producer.start()
    try:
        for n in range(first, first + count):
            value = None if n % 10 == 9 else f"v{n}".encode()
            await producer.send(topic, value, key=f"k{n}".encode(), partition=partition)
            if n % 100 == 99:
                await producer.flush()
        await producer.flush()
    finally:
        await producer.stop()


class Applied:
    """What a table's store would receive: per partition, the batches of (offset, key, value)."""

    def __init__(self) -> None:
        self.batches: dict[TP, list[list[tuple[int, bytes | None, bytes | None]]]] = {}

    def __call__(self, tp: TP, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        self.batches.setdefault(tp, []).append([(r.offset, r.key, r.value) for r in records])

    def offsets(self, tp: TP) -> list[int]:
        return [offset for batch in self.batches.get(tp, []) for offset, _, _ in batch]


async def consumer_for(broker: EmbeddedBroker) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker.url), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    return consumer


async def test_reads_from_the_stored_offset_through_the_end_in_whole_fetches(broker: EmbeddedBroker) -> None:
    topic = f"{TOPIC}-range"
    await produce(broker, topic, 0, 1_000)
    await produce(broker, topic, 1, 10)
    p0, p1, p2 = TP(topic, 0), TP(topic, 1), TP(topic, 2)
    # Faust's convention: start = last offset applied (-1: none), end = last offset to apply.
    starts = {p0: 249, p1: -1, p2: -1}
    ends = {p0: 899, p1: 9, p2: -1}  # as if records 900-999 of partition 0 came after recovery began
    applied = Applied()
    consumer = await consumer_for(broker)
    try:
        count = await read_changelogs(consumer, starts, ends, applied, BulkRestoreOptions(max_records=300))
    finally:
        await consumer.stop()

    # From the stored offset, in order, with nothing skipped, at least through the end; a fetch that
    # ends past it (the short end the embedded broker reports) is applied whole.
    assert applied.offsets(p0) == list(range(250, starts[p0] + 1))
    assert 899 <= starts[p0] <= 999
    assert applied.offsets(p1) == list(range(10))
    assert p2 not in applied.batches  # an empty partition is not read at all
    assert count == starts[p0] - 249 + 10
    assert (starts[p1], starts[p2]) == (9, -1)  # what is stored now, for Faust's loop to start from
    assert len(applied.batches[p0]) >= 3  # in batches of at most max_records, not one by one
    assert all(len(batch) <= 300 for batch in applied.batches[p0])
    first = applied.batches[p0][0][0]
    assert first == (250, b"k250", b"v250")
    assert (259, b"k259", None) in applied.batches[p0][0]  # a tombstone is applied as a delete


async def test_stops_without_progress_and_says_what_it_stored(broker: EmbeddedBroker) -> None:
    """An end the broker never reaches (a log cut short under it) must not hang recovery: the read
    stops after ``stall_s`` without progress, and Faust's own loop takes over from what is stored."""
    topic = f"{TOPIC}-stall"
    await produce(broker, topic, 0, 200)
    tp = TP(topic, 0)
    starts = {tp: -1}
    applied = Applied()
    consumer = await consumer_for(broker)
    try:
        count = await read_changelogs(consumer, starts, {tp: 499}, applied, BulkRestoreOptions(stall_s=1.0))
    finally:
        await consumer.stop()

    assert count == 200
    assert applied.offsets(tp) == list(range(200))
    assert starts == {tp: 199}
