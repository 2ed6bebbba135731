"""Read a whole topic once, from the beginning to the end it had when asked (the ops commands)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from config.broker import bootstrap_servers


async def read_all(broker_url: str, topic: str, timeout_s: float = 60.0) -> list[ConsumerRecord]:
    """Every record now in ``topic``, in offset order per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic)
        if not found:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            if loop.time() > deadline:
                raise TimeoutError(f"reading {topic}: not at its end after {timeout_s} s")
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp_records in batch.values():
                records.extend(tp_records)
            # At or past the end seen at start (the embedded broker may report an end below the true one).
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()
