"""The embedded broker restarts under a running worker: it reconnects and validates what comes next.

The embedded broker keeps its log in memory, so a restart loses every record and committed offset
it held (use Redpanda, whose log is on disk, when that matters). What must not happen is the worker
skipping the new log: its read and committed positions point past the young log's end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from config.topics import topic_specs
from detection.models import Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tests.faults.test_worker_crash import stream
from tests.integration.harness import WorkerProcess, isolated_settings, read_topic

BEFORE = 1200
AFTER = 400


async def produce_keyed(broker: EmbeddedBroker, topic: str, transactions: list[Transaction]) -> None:
    async with kafka_producer(broker.url) as producer:
        for transaction in transactions:
            await producer.send(topic, transaction.model_dump_json().encode(), key=transaction.customer_id.encode())
        await producer.flush()


@pytest.mark.xfail(
    strict=False,
    reason="intermittent (1 run in 3 here): after the restart the worker's partition revocation hangs "
    "('Task timed out' in on_partitions_revoked, after producer sends failed with UnknownError) and it "
    "never rejoins; not fixed yet (bench/RESULTS.md, Faults)",
)
async def test_a_restarted_memory_broker_is_read_from_its_young_beginning(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    transactions = stream(BEFORE + AFTER)
    first_broker = EmbeddedBroker().start()
    settings, env = isolated_settings(first_broker, tmp_path / "data")
    try:
        await ensure_topics(first_broker.url, topic_specs(settings), settings.topic_retention_ms)
        worker = start_worker(env)
        await produce_keyed(first_broker, settings.topic_raw_transactions, transactions[:BEFORE])
        assert len(await read_topic(first_broker.url, settings.topic_validated_transactions, BEFORE, 90)) == BEFORE
        await asyncio.sleep(settings.commit_interval_s * 2)  # the old log's offsets are committed
    finally:
        first_broker.stop()

    second_broker = EmbeddedBroker(port=first_broker.port).start()
    try:
        await ensure_topics(second_broker.url, topic_specs(settings), settings.topic_retention_ms)
        later = transactions[BEFORE:]
        await produce_keyed(second_broker, settings.topic_raw_transactions, later)
        validated = await read_topic(second_broker.url, settings.topic_validated_transactions, AFTER, 90)
        ids = {Transaction.model_validate_json(r.value).transaction_id for r in validated}
        missing = {t.transaction_id for t in later} - ids
        assert not missing, f"{len(missing)} of {AFTER} transactions after the restart never validated"
        assert worker.process is not None and worker.process.poll() is None
    finally:
        worker.stop(timeout=20)
        second_broker.stop()
