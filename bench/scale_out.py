"""Scale-out: one, two and three workers on the same topics, then a handover when one stops.

For each worker count, a fresh embedded broker gets ``--backlog`` transactions of ``--customers``
customers waiting on the raw topic; the workers (each with its own data dir and web port, as on
separate machines) start together and the run times them until every transaction is decided (one
audit record per decision). The rate is counted from the first decision, so start-up and the first
rebalance are printed apart. With two or more workers, one is then stopped (SIGTERM) and
``--after`` more transactions of every customer are sent: the time until all of them are decided is
the time until the stopped worker's customers are served again, their state restored from the
changelogs by the workers that took the partitions over.

On this machine every worker shares two cores with the broker and the others, so the per-worker
rate shows the cost of co-ordination rather than the gain of more machines (README, "Scale out").

    .venv/bin/python -m bench.scale_out [--workers 1,2,3] [--backlog 20000] [--customers 2000] [--after 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from bench.common import REPO, decided_so_far, embedded_system
from config.broker import bootstrap_servers
from config.settings import Settings
from detection.models import Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker, free_port


@dataclass(frozen=True)
class ScaleRow:
    workers: int
    backlog: int
    first_decision_s: float  # from the workers' start: start-up and the first rebalance
    rate: float  # decisions per second from the first decision to the last
    handover_s: float | None  # one worker stopped → every customer's new transaction decided


def transactions(count: int, customers: int, rng: random.Random, prefix: str) -> list[Transaction]:
    now = datetime.now(UTC)
    return [
        Transaction(
            transaction_id=f"{prefix}{n}",
            timestamp=now - timedelta(seconds=rng.uniform(0, 3600)),
            customer_id=f"C{n % customers:06d}",  # every customer, so every partition
            amount=round(rng.uniform(5, 400), 2),
            currency="EUR",
            country="DE",
            merchant_id=f"M{rng.randrange(100)}",
            terminal_id=f"T{rng.randrange(400)}",
        )
        for n in range(count)
    ]


async def produce(broker: EmbeddedBroker, settings: Settings, batch: list[Transaction]) -> None:
    async with kafka_producer(broker.url) as producer:
        for t in batch:
            await producer.send(
                settings.topic_raw_transactions, t.model_dump_json().encode(), key=t.customer_id.encode()
            )
        await producer.flush()


def start_workers(env: dict[str, str], base: Path, count: int) -> list[subprocess.Popen[bytes]]:
    workers = []
    for n in range(count):
        data_dir = base / f"worker-{n}"
        data_dir.mkdir(parents=True, exist_ok=True)
        worker_env = {**env, "FRAUDWATCH_DATA_DIR": str(data_dir), "FRAUDWATCH_WEB_PORT": str(free_port())}
        log = (base / f"worker-{n}.log").open("ab")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "runtime.cli", "worker", "--loglevel", "warn"],
                cwd=REPO,
                env=worker_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


async def until_decided(consumer: AIOKafkaConsumer, settings: Settings, count: int, timeout_s: float) -> float:
    """Seconds until ``count`` decisions exist."""
    started = time.perf_counter()
    while await decided_so_far(consumer, settings) < count:
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{count} decisions not reached in {timeout_s:.0f} s")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def measure(
    broker: EmbeddedBroker, settings: Settings, env: dict[str, str], workers: int, args: argparse.Namespace
) -> ScaleRow:
    rng = random.Random(11)
    await produce(broker, settings, transactions(args.backlog, args.customers, rng, "B"))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker.url), group_id=None)
    await consumer.start()
    processes = start_workers(env, settings.data_dir, workers)
    try:
        first_decision_s = await until_decided(consumer, settings, 1, args.timeout)
        first_at = time.perf_counter()
        first_count = await decided_so_far(consumer, settings)
        await until_decided(consumer, settings, args.backlog, args.timeout)
        rate = (args.backlog - first_count) / max(time.perf_counter() - first_at, 1e-9)
        handover_s = None
        if workers > 1:
            stopped = processes[-1]
            stopped.send_signal(signal.SIGTERM)
            stopping = time.perf_counter()
            await produce(broker, settings, transactions(args.after, args.customers, rng, "H"))
            await until_decided(consumer, settings, args.backlog + args.after, args.timeout)
            handover_s = time.perf_counter() - stopping
        return ScaleRow(workers, args.backlog, first_decision_s, rate, handover_s)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--after", type=int, default=2_000, help="transactions sent after one worker stops")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    rows = []
    partitions = 0
    for workers in (int(w) for w in args.workers.split(",")):
        with embedded_system() as (broker, settings, env):
            rows.append(asyncio.run(measure(broker, settings, env, workers, args)))
            partitions = settings.partitions
        print(f"  {workers} worker(s) done", file=sys.stderr, flush=True)
    print(
        f"{os.cpu_count()} cores; {args.backlog} transactions waiting, "
        f"{args.customers} customers, {partitions} partitions"
    )
    print(
        f"{'workers':>7} {'first decision s':>16} {'decided/s':>10} {'per worker':>10} {'vs one':>7} {'handover s':>10}"
    )
    one = rows[0].rate if rows and rows[0].workers == 1 else None
    for row in rows:
        ratio = f"{row.rate / one:.2f}x" if one else "-"
        handover = f"{row.handover_s:.1f}" if row.handover_s is not None else "-"
        print(
            f"{row.workers:>7} {row.first_decision_s:>16.1f} {row.rate:>10.0f} {row.rate / row.workers:>10.0f} "
            f"{ratio:>7} {handover:>10}"
        )
    print(f"handover: one worker stopped (SIGTERM), then {args.after} transactions of every customer decided")


if __name__ == "__main__":
    main()
