"""Shared bench helpers: an embedded broker with a worker, and percentiles."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from agents.transport import true_end_offsets
from config.broker import bootstrap_servers
from config.settings import Settings
from config.topics import topic_specs
from runtime.broker import EmbeddedBroker, free_port
from runtime.topics import ensure_topics

REPO = Path(__file__).resolve().parents[1]


def slices(expected: int) -> int:
    """How many equal slices a backlog's rate is reported in: one per 10 000 records, at least four."""
    return max(4, expected // 10_000)


def slice_marks(expected: int) -> list[int]:
    """The record counts at which each slice of ``expected`` records ends."""
    n = slices(expected)
    return [expected * q // n for q in range(1, n + 1)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def embedded_system(
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[EmbeddedBroker, Settings, dict[str, str]]]:
    """An embedded broker with its topics created, and the settings and env of a scratch data dir."""
    with tempfile.TemporaryDirectory(prefix="fraudwatch-bench-") as data_dir, EmbeddedBroker() as broker:
        env = {
            **os.environ,
            "FRAUDWATCH_BROKER": broker.url,
            "FRAUDWATCH_BROKER_PROFILE": "embedded",
            "FRAUDWATCH_DATA_DIR": data_dir,
            "FRAUDWATCH_WEB_PORT": str(free_port()),
            "FRAUDWATCH_DASHBOARD_PORT": str(free_port()),
            **(extra_env or {}),
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("FRAUDWATCH_")})
        settings = Settings().embedded_profile()
        asyncio.run(ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms))
        yield broker, settings, env


def worker_process(
    env: dict[str, str], log: Path, repo: Path = REPO, loglevel: str = "warn"
) -> subprocess.Popen[bytes]:
    """A `fraudwatch worker` process of this checkout (or of the checkout ``repo``: the same interpreter runs
    that tree's code), its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "worker", "--loglevel", loglevel],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def broker_and_worker(extra_env: dict[str, str] | None = None) -> Iterator[tuple[EmbeddedBroker, Settings]]:
    """An embedded broker, its topics, and one `fraudwatch worker` process on a scratch data dir."""
    with embedded_system(extra_env) as (broker, settings, env):
        worker = worker_process(env, settings.data_dir / "worker.log")
        try:
            yield broker, settings
        finally:
            worker.terminate()
            worker.wait(timeout=60)


async def records_in(consumer: AIOKafkaConsumer, topic: str) -> int:
    """Records written to ``topic`` so far (the sum of its partitions' end offsets).

    The ends are read as the worker reads them (agents.transport): Tansu reports the last batch's
    base offset + 1, which counts short by all but one record of each partition's last batch, so a
    wait for an exact count of batched records never ended.
    """
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    reported: dict[TP, int | None] = {TP(tp.topic, tp.partition): end for tp, end in ends.items()}
    corrected = await true_end_offsets(consumer._client._bootstrap_servers, reported)
    return sum(end or 0 for end in corrected.values())


async def decided_so_far(consumer: AIOKafkaConsumer, settings: Settings) -> int:
    """Transactions the stream decided so far: every decision appends one record to the decisions log."""
    return await records_in(consumer, settings.topic_decisions)


async def wait_decided(broker: EmbeddedBroker, settings: Settings, count: int, timeout_s: float = 600.0) -> None:
    """Until the workers decided ``count`` transactions, so the load meets an idle worker."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker.url), group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await decided_so_far(consumer, settings) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the workers did not decide {count} transactions in {timeout_s:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
