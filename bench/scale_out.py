"""Scale-out: one, two and three workers on the same topics, then a handover when one stops.

For each worker count, a fresh embedded broker gets ``--backlog`` transactions of ``--customers``
customers waiting on the raw topic; the workers (each with its own data dir and web port, as on
separate machines) start together and the run times them until every transaction is decided (one
audit record per decision). The rate is counted from the first decision, so start-up and the first
rebalance are printed apart. With two or more workers, one is then stopped (SIGTERM) and
``--after`` more transactions of every customer are sent: the time until all of them are decided is
the time until the stopped worker's customers are served again, their state restored from the
changelogs by the workers that took the partitions over (or kept warm by standby replicas,
``--standby 1``). Then every remaining worker is asked through its read API for every customer (or
``--sample`` of them) (any worker answers for any customer: agents.routing forwards to the owner): "routed"
counts answers that came back, "state" those whose transaction count includes every transaction
of the customer, before and after the handover.

On this machine every worker shares two cores with the broker and the others, so the per-worker
rate shows the cost of co-ordination rather than the gain of more machines (README, "Scale out").

    .venv/bin/python -m bench.scale_out [--workers 1,2,3] [--backlog 20000] [--customers 2000] [--after 2000]
        [--standby 0|1] [--sample N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
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
    asked: int  # read API requests: sampled customers x remaining workers
    routed: int  # of them answered (200) by whichever worker was asked
    state_whole: int  # of them with every transaction of the customer counted


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


@dataclass(frozen=True)
class Worker:
    process: subprocess.Popen[bytes]
    web_port: int


def start_workers(env: dict[str, str], base: Path, count: int, loglevel: str = "warn") -> list[Worker]:
    workers = []
    for n in range(count):
        data_dir = base / f"worker-{n}"
        data_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        worker_env = {**env, "FRAUDWATCH_DATA_DIR": str(data_dir), "FRAUDWATCH_WEB_PORT": str(port)}
        log = (base / f"worker-{n}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "worker", "--loglevel", loglevel],
            cwd=REPO,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(Worker(process, port))
    return workers


def _sent_to(customer: int, count: int, customers: int) -> int:
    """Transactions among ``count`` that went to customer number ``customer`` (n % customers)."""
    return count // customers + (customer < count % customers)


async def ask_every_worker(workers: list[Worker], customers: list[str], expected_seen: int) -> tuple[int, int, int]:
    """(asked, answered 200, counting ``expected_seen`` transactions) over every worker and customer."""
    asked = routed = whole = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for worker in workers:
            for customer in customers:
                asked += 1
                url = f"http://127.0.0.1:{worker.web_port}/api/customers/{customer}"
                async with session.get(url) as answer:
                    if answer.status != 200:
                        continue
                    routed += 1
                    behaviour = (await answer.json()).get("behaviour") or {}
                    seen = behaviour.get("transactions_seen")
                    whole += seen == expected_seen
                    if seen != expected_seen:
                        print(
                            f"  {customer} via :{worker.web_port}: {seen} seen, {expected_seen} sent", file=sys.stderr
                        )
    return asked, routed, whole


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
    started = start_workers(env, settings.data_dir, workers, args.loglevel)
    processes = [worker.process for worker in started]
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
            started = started[:-1]
        sample = range(0, args.customers, max(1, args.customers // args.sample) if args.sample else 1)
        asked = routed = whole = 0
        for number in sample:  # transaction n is customer n % customers's
            seen = _sent_to(number, args.backlog, args.customers) + (
                _sent_to(number, args.after, args.customers) if workers > 1 else 0
            )
            answers = await ask_every_worker(started, [f"C{number:06d}"], seen)
            asked, routed, whole = asked + answers[0], routed + answers[1], whole + answers[2]
        return ScaleRow(workers, args.backlog, first_decision_s, rate, handover_s, asked, routed, whole)
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
        if args.logs:  # the data dir goes with the broker
            for n, log in enumerate(sorted(settings.data_dir.glob("worker-*.log"))):
                shutil.copy(log, Path(args.logs) / f"{workers}-workers-{n}.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--after", type=int, default=2_000, help="transactions sent after one worker stops")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--logs", help="copy the workers' logs into this directory")
    parser.add_argument("--loglevel", default="warn", help="the workers' (info shows each bulk restore)")
    parser.add_argument(
        "--sample", type=int, default=0, help="customers asked of every worker at the end (0: every customer)"
    )
    parser.add_argument("--standby", type=int, default=0, help="FRAUDWATCH_TABLE_STANDBY_REPLICAS of every worker")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.backlog} transactions waiting, {args.customers} customers")
    print(f"standby replicas: {args.standby}")
    print(
        f"{'workers':>7} {'first decision s':>16} {'decided/s':>10} {'per worker':>10} {'vs one':>7} "
        f"{'handover s':>10} {'routed':>9} {'state':>9}",
        flush=True,
    )
    one: float | None = None
    for workers in (int(w) for w in args.workers.split(",")):  # each row as it is measured: a later one may time out
        with embedded_system({"FRAUDWATCH_TABLE_STANDBY_REPLICAS": str(args.standby)}) as (broker, settings, env):
            row = asyncio.run(measure(broker, settings, env, workers, args))
        one = row.rate if workers == 1 else one
        ratio = f"{row.rate / one:.2f}x" if one else "-"
        handover = f"{row.handover_s:.1f}" if row.handover_s is not None else "-"
        print(
            f"{row.workers:>7} {row.first_decision_s:>16.1f} {row.rate:>10.0f} {row.rate / row.workers:>10.0f} "
            f"{ratio:>7} {handover:>10} {row.routed:>4}/{row.asked:<4} {row.state_whole:>4}/{row.asked:<4}",
            flush=True,
        )
    print(f"{settings.partitions} partitions; handover: one worker stopped (SIGTERM), then {args.after} transactions")
    print("of every customer decided. routed: read API answers from every remaining worker for sampled customers;")
    print("state: of them, every transaction of the customer counted (the stopped worker's restored by another)")


if __name__ == "__main__":
    main()
