"""Follow a one-partition topic on every worker, from its beginning, with a group-less consumer.

Used where every worker needs every record (the models topic, the activity table's changelog): a
Faust agent would run on one worker only, and Faust's GlobalTable loses updates on all but one
worker when several run (faust-streaming #283; seen here: two workers' copies diverged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from runtime.topics import bootstrap_servers

logger = logging.getLogger(__name__)

RecordHandler = Callable[[bytes | None, bytes | None], None]


async def follow_forever(
    broker_url: str, topic: str, apply: RecordHandler, ready: asyncio.Event, restart: Callable[[], None] | None = None
) -> None:
    """Apply every record of ``topic`` in order, forever; ``ready`` is set once the start's end was read.

    A lost broker connection starts over from the beginning, after ``restart()`` (to reset a fold).
    """
    while True:
        if restart is not None:
            restart()
        try:
            await _follow(broker_url, topic, apply, ready)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("following %s: lost the broker; starting over", topic)
            await asyncio.sleep(1.0)


async def wait_until_ready(ready: asyncio.Event, timeout_s: float, what: str) -> None:
    """Wait for a follower's first catch-up, at most ``timeout_s``; then go on with what is there."""
    try:
        await asyncio.wait_for(ready.wait(), timeout_s)
    except TimeoutError:
        logger.warning("%s not read within %.0f s: going on with what is loaded", what, timeout_s)


async def _follow(broker_url: str, topic: str, apply: RecordHandler, ready: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=200
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        if end == 0:
            ready.set()
        while True:
            batch = await consumer.getmany(partition, timeout_ms=500)
            for record in batch.get(partition, []):
                apply(record.key, record.value)
            if not ready.is_set() and await consumer.position(partition) >= end:
                ready.set()
    finally:
        await consumer.stop()
