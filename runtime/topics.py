"""Create fraudwatch's topics explicitly, with partition counts and configs."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from config.broker import bootstrap_servers
from config.topics import TopicSpec

logger = logging.getLogger(__name__)


async def ensure_topics(
    broker_url: str, specs: list[TopicSpec], retention_ms: int, timeout_s: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url), request_timeout_ms=10_000)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                await admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.configs(retention_ms))]
                )
            except TopicAlreadyExistsError:
                continue
        if missing:
            logger.info("created topics: %s", ", ".join(s.name for s in missing))
        return [s.name for s in missing]
    finally:
        await admin.close()
