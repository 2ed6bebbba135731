"""Create fraudwatch's topics explicitly, with partition counts and configs, and check the ones that exist.

Faust joins a customer's transactions with their state by partition number, so every co-partitioned
topic (config.topics.TopicSpec.copartitioned) must have the configured partition count: a topic
created earlier with another count would silently send a customer's records to a worker that does
not hold their state. Startup refuses instead.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from config.broker import bootstrap_servers
from config.topics import TopicSpec

logger = logging.getLogger(__name__)


class PartitionMismatchError(RuntimeError):
    """Existing co-partitioned topics have another partition count than configured; the message says which."""


def partition_mismatches(specs: list[TopicSpec], existing: dict[str, int]) -> list[str]:
    """A line per existing co-partitioned topic whose partition count differs from its spec."""
    return [
        f"{spec.name} has {existing[spec.name]} partitions, the configuration {spec.partitions}"
        for spec in specs
        if spec.copartitioned and spec.name in existing and existing[spec.name] != spec.partitions
    ]


def check_partitions(specs: list[TopicSpec], existing: dict[str, int]) -> None:
    """Raise PartitionMismatchError when co-partitioned topics differ; log other differences."""
    for spec in specs:
        if not spec.copartitioned and spec.name in existing and existing[spec.name] != spec.partitions:
            logger.warning("%s has %d partitions, configured %d", spec.name, existing[spec.name], spec.partitions)
    problems = partition_mismatches(specs, existing)
    if problems:
        raise PartitionMismatchError(
            "co-partitioned topics must all have FRAUDWATCH_PARTITIONS partitions, or a customer's records "
            "and state land on different workers: "
            + "; ".join(problems)
            + ". Set FRAUDWATCH_PARTITIONS to the existing count, or recreate these topics (and the tables' "
            "changelogs) with the new one."
        )


async def partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    """Topic name -> partition count, for the topics that exist."""
    if not topics:
        return {}
    described = await admin.describe_topics(topics)
    return {str(t["topic"]): len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}


async def ensure_topics(
    broker_url: str, specs: list[TopicSpec], retention_ms: int, timeout_s: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Raises PartitionMismatchError
    (before creating anything) when existing co-partitioned topics have another partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url), request_timeout_ms=10_000)
    # A broker that has just started may not answer yet: retry the connection until timeout_s.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaConnectionError),
        wait=wait_fixed(0.2),
        stop=stop_after_delay(timeout_s),
        reraise=True,
    ):
        with attempt:
            await admin.start()
    try:
        existing = set(await admin.list_topics())
        check_partitions(specs, await partition_counts(admin, [s.name for s in specs if s.name in existing]))
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
