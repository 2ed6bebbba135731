"""One worker's throughput against the ceilings, with a backlog waiting, on the embedded broker.

For each backlog size, a fresh embedded broker gets N transactions (customer-keyed, normal
produce batches) on the raw topic, then three consumers read the same records in turn:

- a plain aiokafka consumer + ``json.loads`` (what the broker and the client can do);
- Faust with one agent that only counts (bench/worker_empty_agent.py, the worker's broker settings);
- ``fraudwatch worker``, the real process (validate + detect, RocksDB state), timed from its
  metrics snapshots (``transactions.scored``, every 0.1 s, interpolated within a snapshot).

Rates are taken from the first record to the last (start-up excluded), and per slice of 10 000
records (per quarter below 40 000): flat or falling as the backlog is worked off. Each size is
repeated; medians are printed, and fraudwatch's share of the empty agent is the median of the
per-run ratios. On a shared machine wall-clock rates swing with the load; the CPU time each
consumer's process used per 1 000 records (every thread, from its first record to its last) is
the steadier measure of what the processing costs, and is printed beside them. The worker's work
does not end with its last scored transaction when it consumes what it wrote (terminal/merchant
activity, say): "until idle" counts its CPU until it first spent under a fifth of a core for a second.

How long the worker's terminal/merchant deltas waited to be folded into the activity table: after the
run, each record of the activity topic (its time stamp: when the detect batch sent it) is matched with
the first changelog record of the table's applied offset that covers it (when the fold wrote it);
median, 90th percentile and longest over the run, and how many transactions were scored meanwhile
at the longest. Since session 12 the table is what a restart reads first (every worker folds the
deltas into its own copy as they come, with its own consumer), and the fold gathers records for
ACTIVITY_FOLD_WITHIN_S (5 s) before it writes: waits of a few seconds are by design there.

    .venv/bin/python -m bench.worker_throughput [--sizes 10000,30000,100000] [--repeats 3]
        [--worker-repo PATH]   # run the fraudwatch worker from another checkout (A/B against main)
        [--spacing-s 40]       # transactions 40 s apart: weeks of terminal/merchant history
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import REPO, embedded_system, slice_marks, slices
from config.broker import bootstrap_servers
from config.settings import Settings
from detection.metrics import TRANSACTIONS_SCORED
from detection.models import MetricsSnapshot, Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker

METRICS_INTERVAL_S = 0.1
IDLE_SAMPLE_S = 0.25
ROWS = ("aiokafka + json.loads", "Faust, one empty agent", "fraudwatch worker")


@dataclass(frozen=True)
class Run:
    """When the first record was taken and when each slice of the backlog was done (wall clock)."""

    expected: int
    times: list[float]  # first record, then the end of each slice; fewer when it did not finish
    taken: int
    #: CPU seconds the consumer's process used from the first record to the last (every thread), when finished.
    cpu_s: float | None = None
    #: ... and until it went idle after the last: work the worker does after scoring (its own side
    #: consumers of what it wrote, such as terminal/merchant activity) counts too.
    settled_cpu_s: float | None = None
    #: (end of a metrics snapshot's interval, transactions scored by then), for the worker.
    scored_timeline: tuple[tuple[float, float], ...] = ()

    @property
    def finished(self) -> bool:
        return len(self.times) == slices(self.expected) + 1

    @property
    def rate(self) -> float:
        return self.expected / (self.times[-1] - self.times[0]) if self.finished else float("nan")

    def slice_rates(self) -> list[float]:
        size = self.expected / slices(self.expected)
        return [size / max(b - a, 1e-9) for a, b in zip(self.times, self.times[1:], strict=False)]

    @property
    def cpu_ms_per_1000(self) -> float | None:
        return self.cpu_s * 1e6 / self.expected if self.finished and self.cpu_s is not None else None

    @property
    def settled_cpu_ms_per_1000(self) -> float | None:
        return self.settled_cpu_s * 1e6 / self.expected if self.finished and self.settled_cpu_s is not None else None


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def produce_backlog(
    broker: EmbeddedBroker, settings: Settings, count: int, customers: int, spacing_s: float = 1.0
) -> None:
    rng = random.Random(7)
    start = datetime.now(UTC).timestamp() - count * spacing_s  # ending now: nothing is "in the future"
    async with kafka_producer(broker.url) as producer:
        for n in range(count):
            customer = f"C{rng.randrange(customers):06d}"
            transaction = Transaction(
                transaction_id=f"W{n}",
                timestamp=datetime.fromtimestamp(start + n * spacing_s, UTC),
                customer_id=customer,
                amount=round(rng.lognormvariate(3.5, 1.0), 2),
                currency="EUR",
                country="DE",
                merchant_id=f"M{rng.randrange(500)}",
                terminal_id=f"M{rng.randrange(500)}-T0",
                channel="pos",
                device_id=f"D{customer}",
            )
            value = transaction.model_dump_json(exclude_none=True).encode()
            await producer.send(settings.topic_raw_transactions, value, key=customer.encode())
        await producer.flush()


async def plain_consumer(broker: EmbeddedBroker, topic: str, expected: int, timeout_s: float) -> Run:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(broker.url), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    marks = set(slice_marks(expected))
    times: list[float] = []
    taken = 0
    deadline = time.monotonic() + timeout_s
    try:
        while taken < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                for record in records:
                    json.loads(record.value)
                    if taken == 0:
                        times.append(time.time())
                        cpu_at_first = time.process_time()
                    taken += 1
                    if taken in marks:
                        times.append(time.time())
    finally:
        await consumer.stop()
    return Run(expected, times, taken, time.process_time() - cpu_at_first if taken == expected else None)


def empty_agent(env: dict[str, str], topic: str, expected: int, timeout_s: float, scratch: Path) -> Run:
    result = scratch / "empty-agent.json"
    result.unlink(missing_ok=True)
    child_env = {**env, "BENCH_TOPIC": topic, "BENCH_EXPECTED": str(expected), "BENCH_RESULT": str(result)}
    command = [sys.executable, "-m", "bench.worker_empty_agent", "worker", "--loglevel", "warn"]
    with child_process(command, REPO, child_env, scratch / "empty-agent.log"):
        deadline = time.monotonic() + timeout_s
        while not result.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    if not result.exists():
        return Run(expected, [], 0)
    data = json.loads(result.read_text())
    return Run(expected, data["times"], data["taken"], data.get("cpu_s"))


def fraudwatch_worker(
    broker: EmbeddedBroker, settings: Settings, env: dict[str, str], expected: int, timeout_s: float, repo: Path
) -> Run:
    python = repo / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-m", "runtime.cli", "worker", "--loglevel", "warn"]
    with child_process(command, repo, env, settings.data_dir / "fraudwatch-worker.log") as pid:
        return asyncio.run(_scored_timeline(broker, settings.topic_metrics, expected, timeout_s, pid))


async def _scored_timeline(broker: EmbeddedBroker, topic: str, expected: int, timeout_s: float, pid: int) -> Run:
    """Quarter times from the worker's snapshots, interpolated linearly within each snapshot's interval.

    The worker's CPU time is read when the first and the last snapshot with scored transactions
    arrive, so it counts up to one snapshot interval (0.1 s) of the worker's time more than its work."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(broker.url), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    marks = [0.0] + [float(mark) for mark in slice_marks(expected)]
    times: list[float] = []
    cpu: list[float] = []
    timeline: list[tuple[float, float]] = []
    scored = 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while len(times) < len(marks) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    snapshot = MetricsSnapshot.model_validate_json(record.value)
                    count = snapshot.counters.get(TRANSACTIONS_SCORED, 0.0)
                    if not count:
                        continue
                    if not cpu:
                        cpu.append(process_cpu_s(pid))
                    start = snapshot.interval_start.timestamp()
                    while len(times) < len(marks) and scored + count >= marks[len(times)]:
                        share = (marks[len(times)] - scored) / count
                        times.append(start + share * snapshot.interval_s)
                    scored += count
                    timeline.append((start + snapshot.interval_s, scored))
                    if scored >= expected and len(cpu) == 1:
                        cpu.append(process_cpu_s(pid))
    finally:
        await consumer.stop()
    if len(cpu) < 2:
        return Run(expected, times, int(scored), None, scored_timeline=tuple(timeline))
    settled = await _cpu_when_idle(pid) - cpu[0]
    return Run(expected, times, int(scored), cpu[1] - cpu[0], settled, tuple(timeline))


async def _cpu_when_idle(pid: int, idle_core_share: float = 0.2, longest_s: float = 120.0) -> float:
    """The process's CPU seconds when it first spent under ``idle_core_share`` of a core over a second.

    Includes at most that share of a second's idling (0.2 s: 20 ms per 1 000 at 10 000 records)."""
    samples = [process_cpu_s(pid)]
    deadline = time.monotonic() + longest_s
    while time.monotonic() < deadline:
        await asyncio.sleep(IDLE_SAMPLE_S)
        samples.append(process_cpu_s(pid))
        window = round(1.0 / IDLE_SAMPLE_S)
        if len(samples) > window and samples[-1] - samples[-1 - window] < idle_core_share:
            return samples[-1 - window]
    return samples[-1]


@contextmanager
def child_process(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    """A child process (its pid) for the duration of a with-block, stopped with SIGTERM (then killed)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def one_round(
    size: int, customers: int, timeout_s: float, repo: Path, spacing_s: float = 1.0
) -> tuple[dict[str, Run], FoldDelays]:
    extra = {"FRAUDWATCH_METRICS_INTERVAL_S": str(METRICS_INTERVAL_S)}
    with embedded_system(extra) as (broker, settings, env):
        asyncio.run(produce_backlog(broker, settings, size, customers, spacing_s))
        topic = settings.topic_raw_transactions
        runs = {ROWS[0]: asyncio.run(plain_consumer(broker, topic, size, timeout_s))}
        runs[ROWS[1]] = empty_agent(env, topic, size, timeout_s, settings.data_dir)
        runs[ROWS[2]] = worker = fraudwatch_worker(broker, settings, env, size, timeout_s, repo)
        folds = asyncio.run(activity_fold_delays(broker, settings, list(worker.scored_timeline)))
    return runs, folds


#: The activity table's key holding the last activity-topic offset folded (agents.activity.APPLIED_KEY;
#: not imported: importing agents builds the Faust app).
APPLIED_KEY = b"\x00applied-offset"


@dataclass(frozen=True)
class FoldDelays:
    """Seconds from each activity record's send to the fold's write of it."""

    delays: list[float]
    worst_scored: float | None  # transactions scored while the longest-waiting record waited

    def summary(self) -> str:
        if not self.delays:
            return "no activity record folded"
        ordered = sorted(self.delays)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        worst = f", {self.worst_scored:,.0f} transactions scored meanwhile" if self.worst_scored is not None else ""
        return (
            f"{len(ordered)} activity records folded after median {statistics.median(ordered):.2f} s, "
            f"p90 {p90:.2f} s, longest {ordered[-1]:.2f} s{worst}"
        )


async def _read_all(broker: EmbeddedBroker, topic: str) -> list[tuple[int, bytes | None, bytes | None, float]]:
    """Every record of the one-partition ``topic`` as (offset, key, value, time stamp in s)."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker.url), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[int, bytes | None, bytes | None, float]] = []
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        empty_polls = 0
        while empty_polls < 10:  # the embedded broker reports ends short of the last batch: read until quiet
            fetched = (await consumer.getmany(tp, timeout_ms=200)).get(tp, [])
            empty_polls = 0 if fetched else empty_polls + 1
            records.extend((r.offset, r.key, r.value, r.timestamp / 1000) for r in fetched)
    finally:
        await consumer.stop()
    return records


async def activity_fold_delays(
    broker: EmbeddedBroker, settings: Settings, scored: list[tuple[float, float]]
) -> FoldDelays:
    """How long each activity record waited to be folded (the module docstring says how it is read)."""
    sent = {offset: stamp for offset, _, _, stamp in await _read_all(broker, settings.topic_entity_activity)}
    applied = [
        (int(value), stamp)
        for _, key, value, stamp in await _read_all(broker, f"{settings.app_id}-entity-activity-changelog")
        if key == APPLIED_KEY and value is not None
    ]
    delays: dict[int, float] = {}
    for offset, stamp in applied:  # in changelog order: the first write covering an offset is its fold
        for folded in range(offset, -1, -1):
            if folded in delays:
                break
            if folded in sent:
                delays[folded] = stamp - sent[folded]
    worst_scored = None
    if delays and scored:
        worst = max(delays, key=lambda offset: delays[offset])
        worst_scored = _scored_at(scored, sent[worst] + delays[worst]) - _scored_at(scored, sent[worst])
    return FoldDelays(list(delays.values()), worst_scored)


def _scored_at(timeline: list[tuple[float, float]], when: float) -> float:
    """Transactions scored by ``when``, from (end of snapshot interval, scored so far) points."""
    before = [count for at, count in timeline if at <= when]
    return before[-1] if before else 0.0


def report(size: int, rounds: Sequence[dict[str, Run]]) -> None:
    print(f"\n{size} transactions waiting, 4 partitions, {len(rounds)} runs (medians)")
    slice_size = f"{size // slices(size):,}"
    print(
        f"| {'consumer':<24} | events/s | share of empty agent | rate per {slice_size} of the backlog "
        "| CPU ms per 1 000 | CPU vs empty agent | CPU ms per 1 000 until idle |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for row in ROWS:
        runs = [r[row] for r in rounds]
        done = [run for run in runs if run.finished]
        if not done:
            taken = max(run.taken for run in runs)
            print(f"| {row:<24} | did not finish: {taken} of {size} taken | | |")
            continue
        rate = statistics.median(run.rate for run in done)
        ratios = [r[row].rate / r[ROWS[1]].rate for r in rounds if r[row].finished and r[ROWS[1]].finished]
        share = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        per_slice = [statistics.median(run.slice_rates()[q] for run in done) for q in range(slices(size))]
        unfinished = f" ({len(runs) - len(done)} runs did not finish)" if len(done) < len(runs) else ""
        cpu = [run.cpu_ms_per_1000 for run in done if run.cpu_ms_per_1000 is not None]
        cpu_ratios = [
            a / b
            for r in rounds
            if (a := r[row].cpu_ms_per_1000) is not None and (b := r[ROWS[1]].cpu_ms_per_1000) is not None
        ]
        cpu_cell = f"{statistics.median(cpu):,.0f}" if cpu else "-"
        cpu_share = f"{statistics.median(cpu_ratios):.1f}x" if cpu_ratios else "-"
        settled = [c for run in done if (c := run.settled_cpu_ms_per_1000) is not None]
        settled_cell = f"{statistics.median(settled):,.0f}" if settled else "-"
        slices_cell = " / ".join(f"{q:,.0f}" for q in per_slice)
        print(
            f"| {row:<24} | {rate:,.0f}{unfinished} | {share} | {slices_cell} | {cpu_cell} | {cpu_share} "
            f"| {settled_cell} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=240.0, help="Longest one consumer may take (s).")
    parser.add_argument("--worker-repo", type=Path, default=REPO, help="Checkout whose worker to run (its .venv).")
    parser.add_argument(
        "--spacing-s",
        type=float,
        default=1.0,
        help="Seconds between the transactions' times: at 40, 100 000 span 46 days, so the 500 terminals' and "
        "merchants' activity reaches its 44-day bound during the run (at 1, they span 28 hours).",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for size in (int(s) for s in args.sizes.split(",")):
        results = [
            one_round(size, args.customers, args.timeout, args.worker_repo, args.spacing_s) for _ in range(args.repeats)
        ]
        report(size, [runs for runs, _ in results])
        for n, (_, folds) in enumerate(results, 1):
            print(f"run {n}, the worker's terminal/merchant deltas: {folds.summary()}")


if __name__ == "__main__":
    main()
