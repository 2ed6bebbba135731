"""Drive the synthetic world: to the broker at a given rate, or to JSONL files for the backtest."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from detection.models import Contract
from detection.sources import REFERENCE_SOURCES
from producers.generator import CORRUPTIONS, TransactionGenerator, corrupt, feedback_for
from producers.kafka import kafka_producer, publish_reference_data
from producers.progress import Progress
from producers.world import World

logger = logging.getLogger(__name__)


async def produce_live(
    settings: Settings,
    broker_url: str,
    *,
    rate: float,
    count: int,
    seed: int,
    customers: int,
    merchants: int,
    fraud_rate: float,
    invalid_rate: float,
) -> int:
    """Reference data first, then transactions paced by event time (= wall clock). Returns transactions sent."""
    now = datetime.now(UTC)
    world = World(seed, customers, merchants, now)
    generator = TransactionGenerator(world, seed, now, rate, fraud_rate)
    rng = random.Random(seed + 2)
    sent = 0
    # Records wait up to the linger for others to the same partition (settings.generator_linger_ms),
    # so a partition's records go out in batches as a gateway's producer would send them.
    async with kafka_producer(broker_url, linger_ms=settings.generator_linger_ms) as producer:
        counts = await publish_reference_data(producer, settings, world.reference)
        logger.info("reference data sent: %s", counts)
        started_wall, started_event = time.monotonic(), now
        progress = Progress("generate", count or None)
        for transaction in itertools.islice(generator, count or None):
            ahead = (transaction.timestamp - started_event).total_seconds() - (time.monotonic() - started_wall)
            if ahead > 0:
                await asyncio.sleep(ahead)  # the producer sends what waits once its linger is up
            if rng.random() < invalid_rate:
                value = corrupt(transaction, rng.choice(CORRUPTIONS))
            else:
                value = transaction.model_dump_json(exclude_none=True).encode()
            await producer.send(settings.topic_raw_transactions, value, key=transaction.customer_id.encode())
            sent += 1
            progress.advance()
        await producer.flush()
        progress.close()
    return sent


#: Where `fraudwatch generate --output-dir` starts its data's event time.
FILES_START = datetime(2026, 1, 1, tzinfo=UTC)


def write_files(
    output_dir: Path,
    *,
    count: int,
    seed: int,
    customers: int,
    rate: float | None = None,
    merchants: int = 300,
    fraud_rate: float = 0.01,
    start: datetime = FILES_START,
) -> dict[str, int]:
    """A labelled data set for `fraudwatch backtest`: transactions, reference data and feedback as JSONL."""
    output_dir.mkdir(parents=True, exist_ok=True)
    world = World(seed, customers, merchants, start)
    generator = TransactionGenerator(world, seed, start, rate or world.daily_rate(), fraud_rate)
    rng = random.Random(seed + 3)
    reference = world.reference.by_source()
    written = {
        f"{source.name}.jsonl": _write_jsonl(output_dir / f"{source.name}.jsonl", reference.get(source.name, []))
        for source in REFERENCE_SOURCES
    }
    feedback = []
    with (output_dir / "transactions.jsonl").open("w") as out:
        progress = Progress("generate", count)
        for transaction in itertools.islice(generator, count):
            out.write(transaction.model_dump_json(exclude_none=True) + "\n")
            outcome = feedback_for(transaction, rng)
            if outcome is not None:
                feedback.append(outcome)
            progress.advance()
        progress.close()
    written["transactions.jsonl"] = count
    feedback.sort(key=lambda f: f.known_at)
    written["feedback.jsonl"] = _write_jsonl(output_dir / "feedback.jsonl", feedback)
    return written


def _write_jsonl(path: Path, records: list[Contract] | list) -> int:  # type: ignore[type-arg]
    with path.open("w") as out:
        for record in records:
            out.write(record.model_dump_json(exclude_none=True) + "\n")
    return len(records)
