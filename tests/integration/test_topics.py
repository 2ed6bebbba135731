"""Startup refuses co-partitioned topics whose partition count differs from the configuration."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from config.broker import bootstrap_servers
from config.topics import topic_specs
from runtime.broker import EmbeddedBroker
from runtime.topics import PartitionMismatchError, ensure_topics
from tests.integration.harness import REPO, isolated_settings


async def create_topic(broker_url: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def test_existing_copartitioned_topic_with_another_count_is_refused(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings, env = isolated_settings(broker, tmp_path / "data")
    assert settings.partitions != 2
    await create_topic(broker.url, settings.topic_blacklist, 2)

    with pytest.raises(PartitionMismatchError, match=rf"{settings.topic_blacklist} has 2 partitions"):
        await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)

    # The command refuses to start with the same message and exit code 2, and creates nothing.
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runtime.cli", "worker"],
        cwd=REPO,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "refusing to start: co-partitioned topics" in completed.stderr
    assert f"{settings.topic_blacklist} has 2 partitions, the configuration {settings.partitions}" in completed.stderr


async def test_matching_topics_pass_and_a_second_run_creates_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings, _ = isolated_settings(broker, tmp_path / "data")
    specs = topic_specs(settings)
    created = await ensure_topics(broker.url, specs, settings.topic_retention_ms)
    assert set(created) == {spec.name for spec in specs}
    assert await ensure_topics(broker.url, specs, settings.topic_retention_ms) == []
