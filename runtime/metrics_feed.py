"""Read the workers' metrics snapshots from the metrics topic (detection.metrics keeps their totals)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer

from config.broker import bootstrap_servers
from detection.models import MetricsSnapshot


async def metrics_snapshots(broker_url: str, topic: str, from_beginning: bool = True) -> AsyncIterator[MetricsSnapshot]:
    """Every snapshot on the metrics topic; no consumer group, so each reader sees all."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        async for message in consumer:
            if message.value is not None:
                yield MetricsSnapshot.model_validate_json(message.value)
    finally:
        await consumer.stop()
