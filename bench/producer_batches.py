"""What handing a batch's records to the producer costs: one ``send`` per record against whole record batches.

A worker's batch handler yields four or five records per transaction (validated, decision, audit,
state changelog, alert) over a few dozen topic-partitions. This bench hands the same records, in
batches of what 500 transactions yield, to an aiokafka producer on the embedded broker both ways,
alternating, and prints the producer-side CPU time per record of each (process time of the
handing-over and the flush, in this single-threaded process: steadier than wall clock on a shared
machine), medians of the rounds, and their ratio.

    .venv/bin/python -m bench.producer_batches [--transactions 500] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer

from agents.record_batches import send_as_batches
from config.broker import bootstrap_servers
from config.topics import TopicSpec
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tables.batched import Outbound

PARTITIONS = 4
#: What one transaction yields, by topic: (topic, bytes of its value, keyed by customer or a fixed partition).
YIELDS = (("validated", 420, True), ("decisions", 900, True), ("audit", 1_600, True), ("changelog", 700, False))


def batch_records(transactions: int, first: int) -> list[Outbound]:
    records: list[Outbound] = []
    for n in range(first, first + transactions):
        customer = f"C{n % 10_000:05d}".encode()
        for topic, size, keyed in YIELDS:
            value = json.dumps({"n": n, "pad": "x" * size}).encode()
            partition = None if keyed else n % PARTITIONS
            records.append(Outbound(f"bench-{topic}", customer, value, partition, {"h": b"1"} if keyed else None))
    return records


async def one_by_one(producer: AIOKafkaProducer, records: Sequence[Outbound]) -> None:
    """What agents.batching did before: ``send`` per record, a done-callback on each future."""
    for record in records:
        headers = list(record.headers.items()) if record.headers else None
        stored = await producer.send(
            record.topic, record.value, key=record.key, partition=record.partition, headers=headers
        )
        stored.add_done_callback(partial(_ignore))


def _ignore(_: Any) -> None:
    return None


async def cpu_per_record(
    producer: AIOKafkaProducer,
    hand_over: Callable[[AIOKafkaProducer, Sequence[Outbound]], Awaitable[None]],
    records: list[Outbound],
) -> float:
    started = time.process_time()
    await hand_over(producer, records)
    await producer.flush()
    return (time.process_time() - started) / len(records) * 1e6


async def main_async(transactions: int, rounds: int) -> None:
    with EmbeddedBroker() as broker:
        specs = [TopicSpec(f"bench-{topic}", PARTITIONS, False, "bench") for topic, _, _ in YIELDS]
        await ensure_topics(broker.url, specs, 3_600_000)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url), linger_ms=5)
        await producer.start()
        ways = {"send per record": one_by_one, "record batches": send_as_batches}
        micros: dict[str, list[float]] = {name: [] for name in ways}
        try:
            for warm_up in (True, False):
                for n in range(1 if warm_up else rounds):
                    for name, hand_over in ways.items():
                        records = batch_records(transactions, n * transactions)
                        cost = await cpu_per_record(producer, hand_over, records)
                        if not warm_up:
                            micros[name].append(cost)
        finally:
            await producer.stop()
    count = transactions * len(YIELDS)
    print(
        f"\n{count} records per batch ({transactions} transactions x {len(YIELDS)} topics), {rounds} rounds (medians)"
    )
    print("| how records reach the producer | CPU µs per record | rounds |")
    print("|---|---:|---|")
    for name, values in micros.items():
        print(f"| {name} | {statistics.median(values):.1f} | {' / '.join(f'{v:.1f}' for v in values)} |")
    ratios = [b / a for a, b in zip(micros["send per record"], micros["record batches"], strict=True)]
    print(f"record batches / send per record: {statistics.median(ratios):.2f} (median of per-round ratios)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main_async(args.transactions, args.rounds))


if __name__ == "__main__":
    main()
