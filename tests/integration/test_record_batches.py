"""agents.record_batches against the embedded broker: a batch handler's records reach their partitions
in the order given, in whole batches, and each stored-callback learns the newest stored offset."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import murmur2

from agents.record_batches import send_as_batches
from config.broker import bootstrap_servers
from config.topics import TopicSpec
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tables.batched import Outbound

TOPIC = "record-batches"
PARTITIONS = 3


def partition_of(record: Outbound) -> int:
    """Its own partition, or where Kafka's default partitioner puts its key."""
    if record.partition is not None:
        return record.partition
    return (int(murmur2(record.key or b"")) & 0x7FFFFFFF) % PARTITIONS


Seen = tuple[int, int, bytes | None, bytes | None, dict[str, bytes]]  # partition, offset, key, value, headers


async def read_all(broker: EmbeddedBroker, topic: str, expected: int) -> list[Seen]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(broker.url), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen: list[Seen] = []
    try:
        while len(seen) < expected:
            batches = await consumer.getmany(timeout_ms=2_000)
            if not batches:
                break
            for records in batches.values():
                seen += [(r.partition, r.offset, r.key, r.value, dict(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return seen


async def test_records_keep_their_partition_order_and_report_the_newest_stored_offset(broker: EmbeddedBroker) -> None:
    specs = [TopicSpec(TOPIC, PARTITIONS, False, "test"), TopicSpec(f"{TOPIC}-few", 1, False, "test")]
    await ensure_topics(broker.url, specs, 3_600_000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url), max_batch_size=4_096)
    await producer.start()
    stored: list[Any] = []
    big = b"x" * 10_000  # larger than a whole batch: sent on its own, in its place
    records = [
        Outbound(TOPIC, f"c{n % 7}".encode(), big if n == 150 else f"v{n}".encode(), headers={"n": str(n).encode()})
        for n in range(300)
    ]
    records += [Outbound(TOPIC, b"state", f"s{n}".encode(), partition=1, on_stored=stored.append) for n in range(50)]
    records.append(Outbound(TOPIC, b"state", None, partition=1, on_stored=stored.append))  # a tombstone, last
    few: list[Any] = []  # a partition given only a few records: sent one by one, each reported
    records += [Outbound(f"{TOPIC}-few", b"few", f"f{n}".encode(), partition=0, on_stored=few.append) for n in range(3)]
    try:
        await send_as_batches(producer, records)
        await producer.flush()
    finally:
        await producer.stop()

    seen = await read_all(broker, TOPIC, len(records) - 3)
    assert len(seen) == len(records) - 3
    for partition in range(PARTITIONS):
        got = [(key, value) for p, _, key, value, _ in sorted(seen) if p == partition]
        sent = [(r.key, r.value) for r in records if r.topic == TOPIC and partition_of(r) == partition]
        assert got == sent  # the order given, per partition, the oversized record in its place
    assert {headers["n"] for _, _, key, _, headers in seen if key != b"state"} == {str(n).encode() for n in range(300)}
    # Stored-callbacks: called per queued batch with its newest record; the last call is the tombstone's offset.
    state_offsets = [offset for p, offset, key, _, _ in seen if key == b"state"]
    assert stored, "the stored-callback was never called"
    assert stored[-1].offset == max(state_offsets) and stored[-1].partition == 1
    assert len(stored) < 51  # once per batch, not once per record
    assert [metadata.offset for metadata in few] == [0, 1, 2]
    assert [value for _, _, _, value, _ in await read_all(broker, f"{TOPIC}-few", 3)] == [b"f0", b"f1", b"f2"]
