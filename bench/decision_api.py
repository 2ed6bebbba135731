"""Decision API latency: POST /api/score against one worker at a steady request rate.

Runs the embedded broker and one worker (RocksDB state), feeds it transactions of 500 customers
so the API reads real state, then sends score requests open-loop (each at its scheduled time,
latency counted from then, so a stalled server is not hidden) and prints p50/p99/max per rate.
Beside each rate, in the same run, the same load of GET /api/rules (a view that reads no table)
gives the floor of the worker's web server and this client.

    .venv/bin/python -m bench.decision_api [--rates 100,500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp

from bench.common import broker_and_worker, percentile, wait_decided
from config.settings import Settings
from detection.models import Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker

CUSTOMERS = [f"C{i:04d}" for i in range(500)]
FEED = 2_000


def transaction(n: int, rng: random.Random, prefix: str) -> Transaction:
    return Transaction(
        transaction_id=f"{prefix}{n}",
        timestamp=datetime.now(UTC) - timedelta(seconds=rng.uniform(0, 60)),
        customer_id=rng.choice(CUSTOMERS),
        amount=round(rng.uniform(5, 400), 2),
        currency="EUR",
        country="DE",
        latitude=52.5,
        longitude=13.4,
        merchant_id=f"M{rng.randrange(50)}",
        terminal_id=f"T{rng.randrange(200)}",
    )


async def run_load(rate: float, seconds: float, request: Callable[[int], Awaitable[None]]) -> list[float]:
    latencies: list[float] = []

    async def one(n: int, due: float) -> None:
        await request(n)
        latencies.append((time.perf_counter() - due) * 1000)

    tasks = []
    begin = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = begin + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    return latencies


async def measure(broker: EmbeddedBroker, settings: Settings, rates: list[float], seconds: float) -> None:
    rng = random.Random(7)
    async with kafka_producer(broker.url) as producer:
        for n in range(FEED):
            t = transaction(n, rng, "F")
            await producer.send(
                settings.topic_raw_transactions, t.model_dump_json().encode(), key=t.customer_id.encode()
            )
        await producer.flush()
    base = f"http://127.0.0.1:{settings.web_port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        await wait_decided(broker, settings, FEED)
        failures = 0

        async def score(n: int, learn: bool = False) -> None:
            nonlocal failures
            body = {"transaction": transaction(n, rng, "S").model_dump(mode="json", exclude_none=True), "learn": learn}
            async with session.post(f"{base}/api/score", json=body) as response:
                await response.read()
                failures += response.status != 200

        async def rules(n: int) -> None:
            async with session.get(f"{base}/api/rules") as response:
                await response.read()

        await run_load(50, 2, score)  # warm-up
        print(f"one worker, {len(CUSTOMERS)} customers with state, {seconds:.0f} s per row, open-loop")
        print(f"{'requests/s':>10} {'endpoint':<28} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        rows: list[tuple[float, str, Callable[[int], Awaitable[None]]]] = []
        for rate in rates:
            rows += [(rate, "POST /api/score learn=false", score), (rate, "GET /api/rules (floor)", rules)]
        rows.append((rates[0], "POST /api/score learn=true", lambda n: score(n, learn=True)))
        for rate, name, request in rows:
            latencies = await run_load(rate, seconds, request)
            print(
                f"{rate:>10.0f} {name:<28} {percentile(latencies, 0.5):>8.1f} {percentile(latencies, 0.99):>8.1f} "
                f"{max(latencies):>8.1f}"
            )
        print(f"non-200 answers: {failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with broker_and_worker() as (broker, settings):
        asyncio.run(measure(broker, settings, [float(r) for r in args.rates.split(",")], args.seconds))


if __name__ == "__main__":
    main()
