"""SIGTERM with 20 000 transactions waiting: the worker stops within its grace period, has committed
exactly what it finished (so nothing is lost), and a restarted worker goes on from there."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from config.broker import bootstrap_servers
from config.settings import Settings
from detection.models import Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker
from tests.faults.test_worker_crash import stream
from tests.integration.harness import WorkerProcess, read_topic, wait_for

WAITING = 20_000
GRACE_S = 10.0


async def committed_offsets(broker: EmbeddedBroker, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker.url), group_id=group)
    await consumer.start()
    try:
        return {p: (await consumer.committed(TopicPartition(topic, p))) or 0 for p in range(partitions)}
    finally:
        await consumer.stop()


async def test_sigterm_with_20000_waiting_stops_within_the_grace_period_and_loses_nothing(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    transactions = stream(WAITING)
    async with kafka_producer(broker.url) as producer:
        for transaction in transactions:
            await producer.send(
                settings.topic_raw_transactions,
                transaction.model_dump_json().encode(),
                key=transaction.customer_id.encode(),
            )
        await producer.flush()

    first = start_worker({**env, "FRAUDWATCH_SHUTDOWN_GRACE_S": str(GRACE_S)}, "first")

    async def busy() -> bool:
        done = await read_topic(broker.url, settings.topic_validated_transactions, 2000, timeout_s=1)
        return len(done) >= 2000

    await wait_for(busy, timeout_s=120, interval_s=0.5)
    assert first.process is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    first.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(first.process.wait, 60)
    stopped_in = loop.time() - started
    assert stopped_in <= GRACE_S, f"stopped after {stopped_in:.1f}s"
    assert code == 0, first.log()[-2000:]
    validated = await read_topic(broker.url, settings.topic_validated_transactions, WAITING, 3)
    validated_ids = {Transaction.model_validate_json(r.value).transaction_id for r in validated}
    committed = await committed_offsets(broker, settings.app_id, settings.topic_raw_transactions, settings.partitions)
    print(f"stopped in {stopped_in:.1f}s; {len(validated_ids)} validated, {sum(committed.values())} offsets committed")

    # Committed means finished: every raw record below a committed offset is on the validated topic.
    raw = await read_topic(broker.url, settings.topic_raw_transactions, WAITING, 30)
    assert len(raw) == WAITING
    committed_ids = {
        Transaction.model_validate_json(r.value).transaction_id for r in raw if r.offset < committed[r.partition]
    }
    assert committed_ids and committed_ids <= validated_ids
    assert len(committed_ids) >= len(validated_ids) - 500  # and what it finished, it committed

    # A restarted worker goes on from there.
    start_worker(env, "second")

    async def progressed() -> bool:
        done = await read_topic(broker.url, settings.topic_validated_transactions, len(validated) + 1000, 2)
        return len(done) >= len(validated) + 1000

    await wait_for(progressed, timeout_s=90, interval_s=1)
