"""A poll takes at most so many records from each partition, so a quiet partition's records are not held
back behind a busy one's whole fetch (agents.fetch_loop.records_evenly; bench/RESULTS.md, session 12)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from agents.fetch_loop import records_evenly
from config.broker import bootstrap_servers
from runtime.broker import EmbeddedBroker

BUSY = 2000
QUIET = 3
PER_PARTITION = 100


async def test_a_poll_takes_a_share_of_each_partition_and_the_quiet_one_comes_first(broker: EmbeddedBroker) -> None:
    bootstrap = bootstrap_servers(broker.url)
    busy, quiet = TopicPartition("share-busy", 0), TopicPartition("share-quiet", 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for n in range(BUSY):
            await producer.send(busy.topic, f"busy {n}".encode(), partition=0)
        for n in range(QUIET):
            await producer.send(quiet.topic, f"quiet {n}".encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    polls: list[dict[TopicPartition, list[ConsumerRecord]]] = []
    try:
        consumer.assign([busy, quiet])
        taken = 0
        for _ in range(500):
            if taken == BUSY + QUIET:
                break
            poll = await records_evenly(consumer._fetcher, {busy, quiet}, 1.0, PER_PARTITION)
            polls.append(poll)
            taken += sum(len(records) for records in poll.values())
    finally:
        await consumer.stop()

    assert all(len(records) <= PER_PARTITION for poll in polls for records in poll.values())
    busy_taken = [record.offset for poll in polls for record in poll.get(busy, [])]
    quiet_taken = [record.offset for poll in polls for record in poll.get(quiet, [])]
    assert busy_taken == list(range(BUSY))  # every record once, in order: what the bound left waits for the next poll
    assert quiet_taken == list(range(QUIET))
    # Both partitions' records were fetched before the busy one's were all taken: with the whole fetch in
    # one poll (Faust's), or aiokafka's bound on the poll filled in fetch order, the quiet records could
    # wait for all 2 000; here they come within the first polls that hold them.
    polls_before_quiet = next(n for n, poll in enumerate(polls) if quiet in poll)
    assert polls_before_quiet * PER_PARTITION < BUSY // 2, [{tp.topic: len(r) for tp, r in p.items()} for p in polls]
