from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from config.topics import topic_specs
from runtime.broker import EmbeddedBroker
from runtime.topics import ensure_topics
from tests.integration.harness import WorkerProcess, isolated_settings


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
async def system(broker: EmbeddedBroker, tmp_path: Path) -> AsyncIterator[tuple[Settings, dict[str, str]]]:
    """Isolated settings and env for one test, with its topics created."""
    settings, env = isolated_settings(broker, tmp_path / "data")
    await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)
    yield settings, env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[object]:
    workers: list[WorkerProcess] = []

    def start(env: dict[str, str], name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"{name}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process is not None and worker.process.poll() is None:
            worker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
