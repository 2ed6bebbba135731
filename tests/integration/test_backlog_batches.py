"""A worker that starts with a backlog takes it in large batches (agents.fetch_loop), and validates each record once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings
from detection.models import Transaction
from producers.generator import TransactionGenerator
from producers.kafka import kafka_producer
from producers.world import World
from runtime.broker import EmbeddedBroker
from tests.integration.harness import WorkerProcess, read_topic, wait_for
from tests.integration.test_health_metrics import fetch

BACKLOG = 3000


async def test_a_backlog_is_validated_once_in_batches_of_many(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    now = datetime.now(UTC)
    generator = TransactionGenerator(World(5, 400, 60, now), 5, now, rate=1000.0)
    produced: set[str] = set()
    async with kafka_producer(broker.url) as producer:
        for _ in range(BACKLOG):
            transaction = next(generator)
            produced.add(transaction.transaction_id)
            value = transaction.model_dump_json(exclude_none=True).encode()
            await producer.send(settings.topic_raw_transactions, value, key=transaction.customer_id.encode())
        await producer.flush()

    worker = start_worker(env)  # after the backlog is on the broker: its first fetches are full
    validated = await read_topic(broker.url, settings.topic_validated_transactions, BACKLOG, timeout_s=120)
    ids = [Transaction.model_validate_json(record.value).transaction_id for record in validated]
    assert sorted(ids) == sorted(produced), worker.log()[-3000:]

    async def validate_batches() -> dict[tuple[str, str | None], float]:
        status, text = await fetch(settings.web_port, "/metrics")
        assert status == 200
        return {
            (sample.name, sample.labels.get("stage")): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def all_counted() -> bool:  # a batch is counted just after its records are handed to the producer
        return (await validate_batches()).get(("fraudwatch_batch_events_sum", "validate"), 0) >= BACKLOG

    await wait_for(all_counted, timeout_s=30, interval_s=0.2)
    samples = await validate_batches()
    batches = samples[("fraudwatch_batch_events_count", "validate")]
    events = samples[("fraudwatch_batch_events_sum", "validate")]
    assert events == BACKLOG
    # Handed over one record per turn of the event loop, the agent finds one to seven waiting (session 8).
    assert events / batches >= 20, f"{events:.0f} events in {batches:.0f} batches"
    assert worker.stop() == 0
