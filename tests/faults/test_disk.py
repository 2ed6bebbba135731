"""An unwritable or full data dir: a clear error and a non-zero exit, never a hang or good records set aside."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from config.settings import Settings
from config.topics import topic_specs
from detection.models import DeadLetter
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tests.integration.harness import WorkerProcess, isolated_settings, read_topic, wait_for
from tests.integration.test_detection import produce, transaction


async def test_a_data_dir_that_cannot_be_created_stops_the_worker_with_a_clear_message(
    broker: EmbeddedBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    _, env = isolated_settings(broker, blocker / "data")
    worker = start_worker(env)
    assert worker.process is not None
    assert await asyncio.to_thread(worker.process.wait, 30) != 0
    log = worker.log()
    assert "data dir" in log and "FRAUDWATCH_DATA_DIR" in log and "Traceback" not in log


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def test_a_full_disk_stops_the_worker_non_zero_instead_of_dead_lettering_good_records(
    broker: EmbeddedBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    with tiny_filesystem(tmp_path / "small-disk", "64m") as data_dir:
        settings, env = isolated_settings(broker, data_dir)
        await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)
        worker = start_worker(env)
        assert worker.process is not None
        await wait_for(lambda: ready(settings.web_port), timeout_s=90, interval_s=0.5)
        fill(data_dir / "filler")  # the disk fills up while the worker runs
        sent = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while worker.process.poll() is None and loop.time() < deadline:
            batch = [transaction(sent + i, f"C-disk-{(sent + i) % 97}") for i in range(200)]
            await produce(broker, settings.topic_raw_transactions, batch, b"C-disk")
            sent += len(batch)
            await asyncio.sleep(0.5)
        code = worker.process.poll()
        log = worker.log()
        assert code is not None and code != 0, f"still running after {sent} transactions: {log[-2000:]}"
        assert "cannot take writes" in log and "No space left on device" in log
        await assert_no_good_record_was_set_aside(broker, settings)


async def ready(port: int) -> bool:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/ready") as response:
        return response.status == 200


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    chunk = b"\0" * (256 * 1024)
    with path.open("wb") as filler:
        try:
            while True:
                filler.write(chunk)
                filler.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError), path.open("ab") as filler:
        while True:  # the last bytes, in small pieces
            filler.write(b"\0" * 512)
            filler.flush()


async def assert_no_good_record_was_set_aside(broker: EmbeddedBroker, settings: Settings) -> None:
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_topic(broker.url, settings.topic_dead_letter, expected=10**6, timeout_s=2)
    ]
    assert [letter.reason for letter in letters] == []
