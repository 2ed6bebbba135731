"""Hand a batch handler's records to the Kafka producer as whole record batches, one per partition.

``AIOKafkaProducer.send`` costs a coroutine, a partitioner call, a metadata check and a future per
record; a worker sends four or five records per transaction (validated, decision, audit, state
changelog, alert), and that per-record work was about a sixth of its GIL time (py-spy, session 6).
Here the records are appended to one ``BatchBuilder`` per topic-partition, in the order given, and
each builder is queued once: the producer's own batching, done by us for the records we already
hold. The order of a partition's records is kept, so a tombstone still follows the batch's earlier
write of its key.

Delivery is not awaited (agents.batching says why); a failed batch trips the delivery guard, so
no commit follows, and Faust flushes the producer (these batches included) before it commits.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from agents.partitioning import key_partition
from agents.transport import delivery_guard
from tables.batched import Outbound

StoredCallback = Callable[[Any], None]
#: Fewer records than this for one partition go one by one (see send_as_batches).
MIN_BATCH_RECORDS = 8


@dataclass(slots=True)
class _PartitionBatch:
    """A builder being filled for one topic-partition, and the stored-callbacks its records asked for."""

    builder: BatchBuilder
    #: callback -> relative offset of the newest record in this batch that asked for it.
    newest: dict[StoredCallback, int] = field(default_factory=dict)


async def send_as_batches(producer: AIOKafkaProducer, records: Sequence[Outbound]) -> None:
    """Queue ``records`` on ``producer`` in per-partition batches, keeping each partition's order.

    A partition given fewer than MIN_BATCH_RECORDS goes through ``send`` as before: at low rates the
    per-record cost is nothing, and those records can still join the producer's open batch for
    their partition (its linger), so a slow stream does not write more, smaller batches — the
    embedded broker's fetches slow down with a partition's batch count.

    A record's ``on_stored`` is called once per queued batch, with the broker's metadata of the
    newest record in that batch that asked for it (callers want "stored up to here").
    """
    partition_counts: dict[str, int | None] = {}
    for topic in {record.topic for record in records}:  # once per topic, not per record: a dict lookup once known
        await producer.client._wait_on_metadata(topic)
        partition_counts[topic] = _partition_count(producer, topic)
    placed = [((record.topic, _partition_of(producer, record, partition_counts)), record) for record in records]
    counts = Counter(where for where, _ in placed)
    # In the order given, not partition by partition: a partition's full builder is queued while the
    # others fill, so the producer has drained it before the next one of that partition is queued
    # (queueing waits for the partition's previous batch to drain; back to back that is a round trip each).
    open_batches: dict[tuple[str, int], _PartitionBatch] = {}
    for where, record in placed:
        if counts[where] < MIN_BATCH_RECORDS:
            await _send_alone(producer, record, where[1])
            continue
        batch = open_batches.get(where) or open_batches.setdefault(where, _PartitionBatch(producer.create_batch()))
        appended = _append(batch.builder, record)
        if appended is None:  # the builder is full: queue it and start another
            await _queue(producer, where, batch)
            batch = open_batches[where] = _PartitionBatch(producer.create_batch())
            appended = _append(batch.builder, record)
        if appended is None:  # larger than a whole batch: the producer's own path says why
            await _send_alone(producer, record, where[1])
            continue
        if record.on_stored is not None:
            batch.newest[record.on_stored] = appended.offset
    for where, batch in open_batches.items():
        await _queue(producer, where, batch)


def _append(builder: BatchBuilder, record: Outbound) -> Any:
    return builder.append(timestamp=None, key=record.key, value=record.value, headers=_headers(record))


def _headers(record: Outbound) -> list[tuple[str, bytes]]:
    return list(record.headers.items()) if record.headers else []


def _partition_count(producer: AIOKafkaProducer, topic: str) -> int | None:
    """The topic's partition count when they are numbered 0..n-1, as topics are, and the producer
    partitions keys as Kafka's default partitioner does (None: leave it to the producer).

    Once per topic and batch: aiokafka's ``partitions_for_topic`` builds a new set each call, which
    per record took 2.5 % of a loaded worker's samples."""
    if not isinstance(producer._partitioner, DefaultPartitioner):
        return None
    partitions = producer._metadata.partitions_for_topic(topic)
    return len(partitions) if partitions and len(partitions) == max(partitions) + 1 else None


def _partition_of(producer: AIOKafkaProducer, record: Outbound, partition_counts: dict[str, int | None]) -> int:
    """The record's partition: its own, or the producer's partitioner's for its key (as ``send`` picks).

    The topic's metadata must be known (send_as_batches waits for it once per topic)."""
    if record.partition is None and record.key is not None:
        count = partition_counts[record.topic]
        if count is not None:
            return key_partition(record.key, count)
    return int(producer._partition(record.topic, record.partition, record.key, record.value, record.key, record.value))


async def _queue(producer: AIOKafkaProducer, where: tuple[str, int], batch: _PartitionBatch) -> None:
    if batch.builder.record_count() == 0:
        return
    batch.builder.close()  # records sent one by one elsewhere start batches of their own
    stored = await producer.send_batch(batch.builder, where[0], partition=where[1])
    stored.add_done_callback(partial(_on_batch_stored, batch.newest))


def _on_batch_stored(newest: dict[StoredCallback, int], stored: asyncio.Future[Any]) -> None:
    if stored.cancelled() or stored.exception() is not None:
        delivery_guard.record_failure(stored.exception() or asyncio.CancelledError())
        return
    metadata = stored.result()  # the batch's: offset is its base offset
    for callback, relative in newest.items():
        callback(metadata._replace(offset=metadata.offset + relative))


async def _send_alone(producer: AIOKafkaProducer, record: Outbound, partition: int) -> None:
    stored = await producer.send(
        record.topic, record.value, key=record.key, partition=partition, headers=_headers(record) or None
    )
    newest = {record.on_stored: 0} if record.on_stored is not None else {}
    stored.add_done_callback(partial(_on_batch_stored, newest))  # a batch of one
