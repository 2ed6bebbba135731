"""The decisions table stays bounded: a live worker sweeps decisions older than the horizon (agents.retention).

A fresh embedded broker gets ``--days`` days of transactions (``--per-day`` each, event times in
order, the first day ``--days`` days ago) and one worker with FRAUDWATCH_CHARGEBACK_HORIZON_DAYS =
``--horizon-days`` decides them. Every few seconds it prints the decisions decided so far beside
the decisions in the table as its changelog has them (what a restore would hold: the key's last
record not a tombstone) and the tombstones so far. At the end, with the worker stopped, it counts
the decisions in the table's RocksDB files and reads the whole changelog again.
Without the sweep every decision would stay (the table grows with ``days x per-day``); with it the
table holds about ``horizon-days x per-day`` plus what the sweep has not reached yet.

    .venv/bin/python -m bench.retention_sweep [--days 12] [--per-day 1500] [--horizon-days 2] [--customers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP
from rocksdict import AccessType, Options, Rdict

from agents.transport import true_end_offsets
from bench.common import embedded_system, records_in
from bench.state_at_scale import changelog, start_worker, stop
from config.broker import bootstrap_servers
from config.settings import Settings
from detection.models import Transaction
from producers.kafka import kafka_producer

TABLE = "decisions"


def transactions(days: int, per_day: int, customers: int, rng: random.Random) -> list[Transaction]:
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    made = []
    for day in range(days):
        offsets = sorted(rng.uniform(0, 86_400) for _ in range(per_day))
        for n, offset in enumerate(offsets):
            made.append(
                Transaction(
                    transaction_id=f"D{day:03d}-{n:06d}",
                    timestamp=first_day + timedelta(days=day, seconds=offset),
                    customer_id=f"C{rng.randrange(customers):06d}",
                    amount=round(rng.uniform(5, 400), 2),
                    currency="EUR",
                    country="DE",
                    merchant_id=f"M{rng.randrange(100)}",
                    terminal_id=f"T{rng.randrange(400)}",
                )
            )
    return made


async def produce(broker_url: str, settings: Settings, batch: list[Transaction]) -> None:
    async with kafka_producer(broker_url) as producer:
        for t in batch:
            await producer.send(
                settings.topic_raw_transactions, t.model_dump_json().encode(), key=t.customer_id.encode()
            )
        await producer.flush()


def table_keys_on_disk(data_dir: Path) -> int:
    """Decisions in every partition store of the decisions table (worker stopped)."""
    total = 0
    for store in sorted(data_dir.rglob(f"{TABLE}-*.db")):
        db = Rdict(str(store), Options(raw_mode=True), access_type=AccessType.read_only())
        try:  # transaction ids only: not Faust's offset key nor the \x00 bookkeeping keys
            total += sum(1 for key, _ in db.items() if isinstance(key, bytes) and key[:1] == b"D")
        finally:
            db.close()
    return total


class ChangelogFollower:
    """Reads the decisions changelog as it grows: records, tombstones, and the decisions a restore holds."""

    def __init__(self, broker_url: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(broker_url),
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=500,
            auto_offset_reset="earliest",
        )
        self.records = self.tombstones = 0
        self._alive: dict[bytes, bool] = {}
        self._partitions: list[TopicPartition] = []

    @property
    def restored(self) -> int:
        return sum(self._alive.values())

    async def start(self) -> None:
        await self.consumer.start()

    async def read_to_end(self, timeout_s: float = 60.0) -> None:
        """Up to each partition's true end now (offsets have gaps where the broker compacted)."""
        if not self._partitions:  # the worker creates the changelog when its table is first written
            await self.consumer._client.force_metadata_update()
            found = self.consumer.partitions_for_topic(self.topic) or set()
            if not found:
                return
            self._partitions = [TopicPartition(self.topic, p) for p in sorted(found)]
            self.consumer.assign(self._partitions)
            await self.consumer.seek_to_beginning(*self._partitions)
        reported = await self.consumer.end_offsets(self._partitions)
        ends = await true_end_offsets(
            self.consumer._client._bootstrap_servers, {TP(tp.topic, tp.partition): n for tp, n in reported.items()}
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            positions = [await self.consumer.position(tp) for tp in self._partitions]
            if all(
                at >= (ends[TP(tp.topic, tp.partition)] or 0)
                for at, tp in zip(positions, self._partitions, strict=True)
            ):
                return
            for batch in (await self.consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                for record in batch:
                    self.records += 1
                    self.tombstones += record.value is None
                    if record.key is not None and record.key[:1] == b"D":
                        self._alive[record.key] = record.value is not None

    async def stop(self) -> None:
        await self.consumer.stop()


async def logged_so_far(group: AIOKafkaConsumer, topic: str) -> int:
    """Decisions the worker's decisions log has committed (its table writes are durable by then)."""
    partitions = group.partitions_for_topic(topic) or set()
    committed = [await group.committed(TopicPartition(topic, p)) for p in partitions]
    return sum(offset or 0 for offset in committed)


async def follow(broker_url: str, settings: Settings, expected: int, every_s: float, timeout_s: float) -> None:
    """Print decided, logged and the changelog's state every ``every_s`` until ``expected`` are logged."""
    decided_counter = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), group_id=None)
    # The worker's group, asked for its committed offsets only (it never joins: no subscription).
    group = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url), group_id=settings.app_id, enable_auto_commit=False
    )
    changelog_now = ChangelogFollower(broker_url, changelog(settings, TABLE))
    await decided_counter.start()
    await group.start()
    await changelog_now.start()
    started = time.monotonic()
    try:
        print(f"{'s':>6} {'decided':>8} {'logged':>8} {'in the table':>12} {'tombstones':>10}", flush=True)
        while True:
            decided = await records_in(decided_counter, settings.topic_decisions)
            await records_in(group, settings.topic_decisions)  # the topic's metadata
            logged = await logged_so_far(group, settings.topic_decisions)
            await changelog_now.read_to_end()
            line = f"{decided:>8} {logged:>8} {changelog_now.restored:>12} {changelog_now.tombstones:>10}"
            print(f"{time.monotonic() - started:>6.0f} {line}", flush=True)
            if logged >= expected:
                return
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"{decided} of {expected} decided in {timeout_s:.0f} s")
            await asyncio.sleep(every_s)
    finally:
        await decided_counter.stop()
        await group.stop()
        await changelog_now.stop()


async def read_changelog(broker_url: str, topic: str) -> ChangelogFollower:
    whole = ChangelogFollower(broker_url, topic)
    await whole.start()
    try:
        await whole.read_to_end(timeout_s=120)
    finally:
        await whole.stop()
    return whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--per-day", type=int, default=1500)
    parser.add_argument("--horizon-days", type=int, default=2)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    batch = transactions(args.days, args.per_day, args.customers, random.Random(7))
    extra = {"FRAUDWATCH_CHARGEBACK_HORIZON_DAYS": str(args.horizon_days)}
    with embedded_system(extra) as (broker, settings, env):
        asyncio.run(produce(broker.url, settings, batch))
        worker, start = start_worker(env, settings.data_dir / "worker.log")
        try:
            print(f"worker ready in {start.ready_s:.1f} s; {len(batch)} transactions over {args.days} days waiting")
            asyncio.run(follow(broker.url, settings, len(batch), args.every, args.timeout))
        finally:
            stop(worker)
        on_disk = table_keys_on_disk(settings.data_dir)
        whole = asyncio.run(read_changelog(broker.url, changelog(settings, TABLE)))
    print(
        f"decided {len(batch)} over {args.days} days, horizon {args.horizon_days} days "
        f"(~{args.horizon_days * args.per_day} decisions within it at the end)"
    )
    print(f"decisions table on disk: {on_disk} keys")
    print(
        f"changelog (as the broker keeps it, compacted): {whole.records} records, {whole.tombstones} tombstones; "
        f"a restore holds {whole.restored} decisions"
    )


if __name__ == "__main__":
    main()
