"""The spine against a real (embedded) broker: a worker process, produced data, topics read back."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

from config.settings import Settings
from detection.models import DeadLetter, Transaction
from producers.generator import CORRUPTIONS, TransactionGenerator, corrupt
from producers.kafka import kafka_producer
from producers.world import World
from runtime.broker import EmbeddedBroker
from tests.integration.harness import WorkerProcess, kcat_consume, read_topic


async def test_worker_survives_10000_mixed_records_and_accounts_for_every_one(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    worker = start_worker(env)
    now = datetime.now(UTC)
    generator = TransactionGenerator(World(11, 500, 80, now), 11, now, rate=1000.0)
    rng = random.Random(11)
    good: set[str] = set()
    bad: dict[bytes, str] = {}
    async with kafka_producer(broker.url) as producer:
        for i in range(10_000):
            transaction = next(generator)
            if i % 3 == 0:
                value = corrupt(transaction, rng.choice(CORRUPTIONS))
                bad[value] = transaction.transaction_id
            else:
                value = transaction.model_dump_json(exclude_none=True).encode()
                good.add(transaction.transaction_id)
            await producer.send(settings.topic_raw_transactions, value, key=transaction.customer_id.encode())
        await producer.flush()

    validated = await read_topic(broker.url, settings.topic_validated_transactions, len(good), timeout_s=120)
    dead = await read_topic(broker.url, settings.topic_dead_letter, len(bad), timeout_s=60)
    assert worker.process is not None and worker.process.poll() is None, worker.log()[-3000:]

    validated_ids = [Transaction.model_validate_json(r.value).transaction_id for r in validated]
    assert len(validated_ids) == len(good) and set(validated_ids) == good
    assert all(r.key == Transaction.model_validate_json(r.value).customer_id.encode() for r in validated)

    letters = [DeadLetter.model_validate_json(r.value) for r in dead]
    assert len(letters) == len(bad)
    assert {base64.b64decode(letter.original_b64) for letter in letters} == set(bad)
    assert {letter.reason for letter in letters} >= {
        "not_json",
        "missing_field",
        "schema",
        "unknown_currency",
        "future_timestamp",
    }
    assert all(letter.source_topic == settings.topic_raw_transactions for letter in letters)
    assert len({(letter.source_partition, letter.source_offset) for letter in letters}) == len(letters)
    assert worker.stop() == 0


async def test_kcat_reads_validated_records_as_plain_json(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    start_worker(env)
    now = datetime.now(UTC)
    generator = TransactionGenerator(World(3, 50, 20, now), 3, now, rate=1000.0)
    async with kafka_producer(broker.url) as producer:
        for _ in range(20):
            transaction = next(generator)
            await producer.send(
                settings.topic_raw_transactions,
                transaction.model_dump_json().encode(),
                key=transaction.customer_id.encode(),
            )
    assert len(await read_topic(broker.url, settings.topic_validated_transactions, 20)) == 20

    output = await kcat_consume(broker.bootstrap, settings.topic_validated_transactions, count=5)
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert len(records) == 5
    assert all(Transaction.model_validate(record).amount > 0 for record in records)
