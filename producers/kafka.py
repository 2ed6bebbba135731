"""A plain aiokafka producer for input data (about 10x faster than going through Faust)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer

from config import Settings
from config.broker import bootstrap_servers
from config.topics import reference_topics
from detection.models import Contract
from producers.world import ReferenceData


@asynccontextmanager
async def kafka_producer(broker_url: str, linger_ms: int = 2) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(broker_url),
        acks="all",
        linger_ms=linger_ms,
        enable_idempotence=False,  # Tansu has no idempotent-producer support; ids make records idempotent
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def send_records(producer: AIOKafkaProducer, topic: str, records: Iterable[Contract], key_field: str) -> int:
    """Send contract records keyed by one of their fields; returns how many were sent."""
    sent = 0
    for record in records:
        key = str(getattr(record, key_field)).encode()
        await producer.send(topic, record.model_dump_json(exclude_none=True).encode(), key=key)
        sent += 1
    await producer.flush()
    return sent


async def publish_reference_data(
    producer: AIOKafkaProducer, settings: Settings, reference: ReferenceData
) -> dict[str, int]:
    """Every reference source's records to its compacted topic (detection.sources); topic -> records sent."""
    records = reference.by_source()
    return {
        topic: await send_records(producer, topic, records.get(source.name, []), source.key_field)
        for topic, source in reference_topics(settings).items()
    }
