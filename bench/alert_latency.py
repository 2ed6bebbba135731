"""Alert latency: time from a transaction being produced to its alert arriving on the alerts topic.

Runs the embedded broker and one worker (RocksDB state), sends transactions at a steady rate,
a share of them from blacklisted customers (so they alert), and prints p50/p99/max and the rate
the producer actually achieved, for each rate in turn on the same worker.

    .venv/bin/python -m bench.alert_latency [--rates 200,1000,2000] [--seconds 20] [--alert-share 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from bench.common import broker_and_worker, percentile
from config.broker import bootstrap_servers
from config.settings import Settings
from detection.alert import Alert
from detection.models import BlacklistEntry, Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker

BLACKLISTED = [f"B{i:04d}" for i in range(50)]


async def measure(broker: EmbeddedBroker, settings: Settings, rates: list[float], seconds: float, share: float) -> None:
    """One worker, each rate in turn for ``seconds``; prints one table row per rate."""
    sent_at: dict[str, float] = {}
    latencies_ms: list[float] = []
    consumer = AIOKafkaConsumer(
        settings.topic_alerts,
        bootstrap_servers=bootstrap_servers(broker.url),
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
    )
    await consumer.start()

    first_alert = asyncio.Event()

    async def collect() -> None:
        async for message in consumer:
            arrived = time.perf_counter()
            first_alert.set()
            alert = Alert.model_validate_json(message.value)
            started = sent_at.pop(alert.transaction.transaction_id, None)
            if started is not None:
                latencies_ms.append((arrived - started) * 1000)

    collector = asyncio.create_task(collect())
    rng = random.Random(1)
    print("| target rate | achieved rate | alerts | p50 | p99 | max |")
    print("|---:|---:|---:|---:|---:|---:|")
    async with kafka_producer(broker.url) as producer:
        for customer in BLACKLISTED:
            entry = BlacklistEntry(customer_id=customer, reason="bench", listed_at=datetime.now(UTC))
            await producer.send(settings.topic_blacklist, entry.model_dump_json().encode(), key=customer.encode())
        await producer.flush()
        await asyncio.sleep(1.0)  # let the blacklist reach the worker's table
        warm = Transaction(
            transaction_id="warm", timestamp=datetime.now(UTC), customer_id=BLACKLISTED[0], amount=10, currency="EUR"
        )
        await producer.send_and_wait(settings.topic_raw_transactions, warm.model_dump_json().encode(), key=b"B0000")
        sent_at["warm"] = time.perf_counter()
        await asyncio.wait_for(first_alert.wait(), timeout=120)  # the worker is ready: the warm-up alert is back
        for rate in rates:
            latencies_ms.clear()
            total = int(rate * seconds)
            begin = time.perf_counter()
            for n in range(total):
                due = begin + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                customer = rng.choice(BLACKLISTED) if rng.random() < share else f"C{rng.randrange(20_000):05d}"
                transaction = Transaction(
                    transaction_id=f"L{rate:.0f}-{n}",
                    timestamp=datetime.now(UTC),
                    customer_id=customer,
                    amount=round(rng.uniform(5, 200), 2),
                    currency="EUR",
                    country="DE",
                )
                sent_at[transaction.transaction_id] = time.perf_counter()
                await producer.send(
                    settings.topic_raw_transactions, transaction.model_dump_json().encode(), key=customer.encode()
                )
            await producer.flush()
            achieved = total / (time.perf_counter() - begin)
            await asyncio.sleep(3)  # the last alerts arrive
            if latencies_ms:
                p50, p99 = percentile(latencies_ms, 0.50), percentile(latencies_ms, 0.99)
                print(
                    f"| {rate:,.0f}/s | {achieved:,.0f}/s | {len(latencies_ms)} "
                    f"| {p50:.1f} ms | {p99:.1f} ms | {max(latencies_ms):.1f} ms |"
                )
            else:
                print(f"| {rate:,.0f}/s | {achieved:,.0f}/s | 0 | | | |")
    collector.cancel()
    await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="200,1000", help="Comma-separated transactions/s, run in turn.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Per rate.")
    parser.add_argument("--alert-share", type=float, default=0.05)
    args = parser.parse_args()
    with broker_and_worker() as (broker, settings):
        rates = [float(rate) for rate in args.rates.split(",")]
        asyncio.run(measure(broker, settings, rates, args.seconds, args.alert_share))


if __name__ == "__main__":
    main()
