"""On the embedded broker the live generator writes a partition's records in shared batches.

Every fetch there lists all of a partition's batches (bench/broker_fetch_cost.py), so one record
per batch is what wore a two-hour demo down; the embedded profile's generator linger prevents it.
"""

from __future__ import annotations

from pathlib import Path

from bench.broker_footprint import footprint
from config.settings import EMBEDDED_GENERATOR_LINGER_MS, Settings
from config.topics import topic_specs
from producers.generate import produce_live
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tests.integration.harness import isolated_settings


async def produced_batches(broker: EmbeddedBroker, settings: Settings, rate: float, count: int) -> tuple[int, int]:
    """(records, batches) on the raw topic after the live generator sent ``count`` transactions."""
    await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)
    sent = await produce_live(
        settings,
        broker.url,
        rate=rate,
        count=count,
        seed=7,
        customers=200,
        merchants=20,
        fraud_rate=0.0,
        invalid_rate=0.0,
    )
    (raw,) = await footprint(broker.url, [settings.topic_raw_transactions])
    assert raw.records == sent == count  # batching loses nothing
    return raw.records, raw.batches


async def test_linger_cuts_the_batches_of_a_live_stream(broker: EmbeddedBroker, tmp_path: Path) -> None:
    # 40 transactions/s over 4 partitions: ~10/s per partition, so a 500 ms linger gathers ~5 per batch,
    # while a 5 ms linger (Kafka's habit) sends nearly every record alone.
    lingering, _ = isolated_settings(broker, tmp_path / "lingering")
    assert lingering.generator_linger_ms == EMBEDDED_GENERATOR_LINGER_MS
    records, batches = await produced_batches(broker, lingering, rate=40, count=160)
    eager, _ = isolated_settings(broker, tmp_path / "eager", generator_linger_ms=5)
    eager_records, eager_batches = await produced_batches(broker, eager, rate=40, count=160)
    assert eager_batches > 0.7 * eager_records
    assert batches < records / 3
