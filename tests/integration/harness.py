"""Integration-test helpers: isolated topic names, worker processes, reading topics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from config.broker import bootstrap_servers
from config.settings import Settings
from runtime.broker import EmbeddedBroker, free_port

REPO = Path(__file__).resolve().parents[2]


def isolated_settings(broker: EmbeddedBroker, data_dir: Path, **overrides: object) -> tuple[Settings, dict[str, str]]:
    """Settings (and the env that yields them in a child process) with topic names and app id of their own,
    so tests sharing one broker never see each other's records."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = {
        "FRAUDWATCH_BROKER": broker.url,
        "FRAUDWATCH_BROKER_PROFILE": "embedded",
        "FRAUDWATCH_STORE": "rocksdb://",
        "FRAUDWATCH_DATA_DIR": str(data_dir),
        "FRAUDWATCH_APP_ID": f"fraudwatch-{prefix}",
        "FRAUDWATCH_WEB_PORT": str(free_port()),
        "FRAUDWATCH_METRICS_INTERVAL_S": "0.5",
    }
    for name, field in Settings.model_fields.items():
        if name.startswith("topic_") and field.annotation is str:
            env[f"FRAUDWATCH_{name.upper()}"] = f"{prefix}.{field.default}"
    env.update({f"FRAUDWATCH_{k.upper()}": str(v) for k, v in overrides.items()})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings().embedded_profile()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return settings, env


class WorkerProcess:
    """`fraudwatch worker` in a child process, as an operator runs it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "worker", "--loglevel", "info"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@asynccontextmanager
async def topic_reader(broker_url: str, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of ``topic`` from its beginning, in no group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers(broker_url),
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_topic(broker_url: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[ConsumerRecord]:
    """All records of ``topic`` from the beginning, until ``expected`` arrived or the time is up."""
    records: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with topic_reader(broker_url, topic) as consumer:
        while len(records) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
    return records


def require_kcat() -> None:
    import shutil

    import pytest

    if shutil.which("kcat") is None:
        pytest.skip("Debian's kcat is not installed (.ci/run installs it: apt-get install kcat)")


async def kcat_consume(bootstrap: str, topic: str, count: int) -> str:
    """The first ``count`` values of ``topic`` as Debian's kcat prints them, one per line."""
    require_kcat()
    # Tansu's ApiVersions v3 answer trips librdkafka 2.0 (Debian's kcat): skip that request and start at
    # offset 0 explicitly (no ListOffsets). Against Redpanda plain `kcat -C -t TOPIC` works.
    command = [
        "kcat",
        "-X",
        "api.version.request=false",
        "-X",
        "broker.version.fallback=0.9.0",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "0",
        "-C",
        "-c",
        str(count),
        "-e",
        "-q",
    ]
    completed = await asyncio.to_thread(subprocess.run, command, capture_output=True, timeout=60, check=True, text=True)
    return completed.stdout


async def get_json(port: int, path: str) -> tuple[int, Any]:
    """GET a worker's read API."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.json(content_type=None)


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.05) -> float:
    """Seconds until ``predicate`` held; raises TimeoutError when it never did."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < timeout_s:
        try:
            if await predicate():
                return loop.time() - started
        except OSError:  # a worker's web server not (yet) listening
            pass
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"condition not met in {timeout_s}s")


async def end_offsets_total(broker_url: str, topic: str) -> int:
    """Sum of the end offsets the broker reports for every partition of ``topic``."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url), group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def open_dashboard(browser: Any, port: int, height: int = 1400) -> Any:
    """A new page on the dashboard at ``port``, retried while the server starts listening."""
    page = await browser.new_page(viewport={"width": 1500, "height": height})
    for _ in range(60):
        try:
            await page.goto(f"http://127.0.0.1:{port}/dashboard")
            break
        except Exception:
            await page.wait_for_timeout(500)
    return page
