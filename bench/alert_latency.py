"""Alert latency: time from a transaction being produced to its alert arriving on the alerts topic.

Runs the embedded broker and one worker (RocksDB state), sends transactions at a steady rate,
a share of them from blacklisted customers (so they alert), and prints p50/p99/max and the rate
the producer actually achieved, for each rate in turn on the same worker. With ``--search`` it then
finds the highest rate the worker keeps up with (every alert arrives, p99 under a second, the rate
achieved): doubling from 50/s until it does not, then halving the gap twice.

    .venv/bin/python -m bench.alert_latency [--rates 200,1000,2000] [--seconds 20] [--alert-share 0.05] [--search]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import broker_and_worker, percentile
from config.broker import bootstrap_servers
from config.settings import Settings
from detection.alert import Alert
from detection.models import BlacklistEntry, Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker

BLACKLISTED = [f"B{i:04d}" for i in range(50)]
#: A rate is kept up with when every alert arrives and p99 stays under this: no queue builds in the run.
SUSTAINED_P99_MS = 1_000.0
#: How long a run waits for its last alerts (a worker that fell behind drains before the next rate).
DRAIN_S = 60.0
#: Rest after a run the worker did not keep up with, before the next rate starts.
SETTLE_S = 30.0
#: Longest the worker may take to start and send its first alert.
WARM_UP_S = 300.0
SEARCH_FROM, SEARCH_UP_TO = 50.0, 3_200.0


@dataclass
class RateRun:
    """One rate's outcome: what the producer achieved and every alert's produce-to-alert time."""

    rate: float
    achieved: float
    expected_alerts: int  # the blacklisted customers' transactions: each must alert
    listed_arrived: int
    latencies_ms: list[float]  # every alert of the run's transactions (other rules alert too)

    @property
    def kept_up(self) -> bool:
        """Every alert arrived (within the drain wait) and p99 stayed under SUSTAINED_P99_MS: no queue built."""
        return (
            self.listed_arrived == self.expected_alerts
            and bool(self.latencies_ms)
            and percentile(self.latencies_ms, 0.99) <= SUSTAINED_P99_MS
            and self.achieved >= 0.95 * self.rate
        )

    def row(self) -> str:
        head = f"| {self.rate:,.0f}/s | {self.achieved:,.0f}/s | {self.listed_arrived} of {self.expected_alerts} "
        if not self.latencies_ms:
            return head + "| | | | no |"
        lat = self.latencies_ms
        return (
            head + f"| {percentile(lat, 0.50):.1f} ms | {percentile(lat, 0.99):.1f} ms | {max(lat):.1f} ms "
            f"| {'yes' if self.kept_up else 'no'} |"
        )


class LatencyProbe:
    """Sends transactions at a rate to a running worker and times each alert's arrival."""

    def __init__(self, broker: EmbeddedBroker, settings: Settings, share: float) -> None:
        self.broker, self.settings, self.share = broker, settings, share
        self.sent_at: dict[str, float] = {}
        self.latencies_ms: list[float] = []
        self.listed_pending: set[str] = set()  # blacklisted customers' transactions whose alert has not come
        self.first_alert = asyncio.Event()
        self.rng = random.Random(1)

    async def collect(self, consumer: AIOKafkaConsumer) -> None:
        async for message in consumer:
            arrived = time.perf_counter()
            self.first_alert.set()
            alert = Alert.model_validate_json(message.value)
            self.listed_pending.discard(alert.transaction.transaction_id)
            started = self.sent_at.pop(alert.transaction.transaction_id, None)
            if started is not None:
                self.latencies_ms.append((arrived - started) * 1000)

    async def warm_up(self, producer: AIOKafkaProducer) -> None:
        """List the blacklisted customers and wait for a first alert: the worker is then ready."""
        topic = self.settings.topic_blacklist
        for customer in BLACKLISTED:
            entry = BlacklistEntry(customer_id=customer, reason="bench", listed_at=datetime.now(UTC))
            await producer.send(topic, entry.model_dump_json().encode(), key=customer.encode())
        await producer.flush()
        await asyncio.sleep(1.0)  # let the blacklist reach the worker's table
        # The worker reads the blacklist and the transactions side by side, so a first transaction can
        # be decided before its customer's listing arrives: send one every few seconds until one alerts.
        raw = self.settings.topic_raw_transactions
        deadline = time.perf_counter() + WARM_UP_S
        for n in itertools.count():
            warm = Transaction(
                transaction_id=f"warm-{n}",
                timestamp=datetime.now(UTC),
                customer_id=BLACKLISTED[0],
                amount=10,
                currency="EUR",
            )
            await producer.send_and_wait(raw, warm.model_dump_json().encode(), key=BLACKLISTED[0].encode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.first_alert.wait(), timeout=5)
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no alert from the worker within {WARM_UP_S:.0f} s")

    async def drained(self) -> None:
        """Until every blacklisted customer's transaction alerted: the worker has worked off the run."""
        deadline = time.perf_counter() + DRAIN_S
        while self.listed_pending and time.perf_counter() < deadline:  # noqa: ASYNC110 (a set, polled)
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)

    async def run(self, producer: AIOKafkaProducer, rate: float, seconds: float) -> RateRun:
        self.latencies_ms = []
        self.sent_at.clear()
        self.listed_pending.clear()
        total = int(rate * seconds)
        expected = 0
        begin = time.perf_counter()
        for n in range(total):
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            listed = self.rng.random() < self.share
            customer = self.rng.choice(BLACKLISTED) if listed else f"C{self.rng.randrange(20_000):05d}"
            expected += listed
            transaction = Transaction(
                transaction_id=f"L{rate:.0f}-{n}",
                timestamp=datetime.now(UTC),
                customer_id=customer,
                amount=round(self.rng.uniform(5, 200), 2),
                currency="EUR",
                country="DE",
            )
            self.sent_at[transaction.transaction_id] = time.perf_counter()
            if listed:
                self.listed_pending.add(transaction.transaction_id)
            await producer.send(
                self.settings.topic_raw_transactions, transaction.model_dump_json().encode(), key=customer.encode()
            )
        await producer.flush()
        achieved = total / (time.perf_counter() - begin)
        # The last alerts arrive; a worker that fell behind drains its queue before the next rate starts.
        await self.drained()
        run = RateRun(rate, achieved, expected, expected - len(self.listed_pending), list(self.latencies_ms))
        if not run.kept_up:  # the worker's other agents (decisions log, activity) catch up after a queue
            await asyncio.sleep(SETTLE_S)
        return run


async def measure(
    broker: EmbeddedBroker, settings: Settings, rates: list[float], seconds: float, share: float, search: bool
) -> None:
    """One worker, each rate in turn for ``seconds``; then, with ``search``, the highest rate it keeps up with."""
    probe = LatencyProbe(broker, settings, share)
    consumer = AIOKafkaConsumer(
        settings.topic_alerts,
        bootstrap_servers=bootstrap_servers(broker.url),
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    collector = asyncio.create_task(probe.collect(consumer))
    print(f"| rate | achieved | listed alerts back | p50 | p99 | max | kept up (p99 <= {SUSTAINED_P99_MS:,.0f} ms) |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    async with kafka_producer(broker.url) as producer:
        await probe.warm_up(producer)
        for rate in rates:
            print((await probe.run(producer, rate, seconds)).row(), flush=True)
        if search:
            best = await highest_sustained(probe, producer, seconds)
            print(f"highest sustained rate: {best.rate:,.0f}/s" if best else "no rate tried was sustained")
            if best:
                print(best.row())
    collector.cancel()
    await consumer.stop()


async def highest_sustained(probe: LatencyProbe, producer: AIOKafkaProducer, seconds: float) -> RateRun | None:
    """Double the rate from SEARCH_FROM while the worker keeps up, then halve the gap twice."""
    good: RateRun | None = None
    rate, bad = SEARCH_FROM, None
    while bad is None and rate <= SEARCH_UP_TO:
        run = await probe.run(producer, rate, seconds)
        print(run.row(), flush=True)
        if run.kept_up:
            good, rate = run, rate * 2
        else:
            bad = rate
    for _ in range(2):
        if good is None or bad is None:
            break
        middle = round((good.rate + bad) / 2)
        run = await probe.run(producer, middle, seconds)
        print(run.row(), flush=True)
        if run.kept_up:
            good = run
        else:
            bad = middle
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="200,1000", help="Comma-separated transactions/s, run in turn.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Per rate.")
    parser.add_argument("--alert-share", type=float, default=0.05)
    parser.add_argument("--search", action="store_true", help="Then find the highest rate the worker keeps up with.")
    args = parser.parse_args()
    with broker_and_worker() as (broker, settings):
        rates = [float(rate) for rate in args.rates.split(",") if rate]
        asyncio.run(measure(broker, settings, rates, args.seconds, args.alert_share, args.search))


if __name__ == "__main__":
    main()
