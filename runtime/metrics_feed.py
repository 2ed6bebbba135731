"""Read the workers' metrics snapshots from the metrics topic and keep running totals."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer

from detection.models import MetricsSnapshot
from runtime.topics import bootstrap_servers


class MetricsTotals:
    """Sums of every counter over all workers since the feed started."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.last: MetricsSnapshot | None = None

    def add(self, snapshot: MetricsSnapshot) -> None:
        self.counters.update(snapshot.counters)
        self.last = snapshot

    def family(self, prefix: str) -> dict[str, float]:
        """Counters under ``prefix.`` with the prefix removed, e.g. family('dead_letter')."""
        cut = len(prefix) + 1
        return {name[cut:]: value for name, value in self.counters.items() if name.startswith(prefix + ".")}


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
