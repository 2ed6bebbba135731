"""Topics every worker reads whole (rule sets, allow lists): no consumer group, from the beginning.

A Faust agent gets only the partitions the group assigns it, and a table fed by a changelog it
does not own only tails it as a standby (robinhood/faust #541); GlobalTable misbehaves with
several workers (#283). These topics are small and compacted, so each worker reads all of one
with its own aiokafka consumer into memory, and says when it has caught up with the end it saw
at start (the detect agent and the decision API wait for that, so a restarted worker decides
on the latest rules, never on the file's defaults).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from agents import topics
from agents.app import app, broker_url
from agents.dead_letter import dead_letter_of, error_of
from agents.metrics import worker_metrics
from agents.tables import customer_behaviour
from config import get_settings
from config.broker import bootstrap_servers
from detection.metrics import Family, counter

logger = logging.getLogger(__name__)
settings = get_settings()
RecordHandler = Callable[[ConsumerRecord], None]


#: How long a continuation waits, at the end of the followed topic, for the records read to end at a
#: boundary (the writer sends one record's values and then its offset; a writer that died in between
#: never sends the offset, and the table's own writer applies that record again when it restarts).
BOUNDARY_WAIT_S = 5.0


class Continuation(Protocol):
    """What a reader goes on with after reading its topic to the end: a table's changelog gives the table's
    values and the offset of its one-partition source topic they include; the source topic from the next
    offset keeps the copy current without reading the table's values again (agents.activity)."""

    #: the one-partition topic read after the followed one
    topic: str

    def begin(self) -> None:
        """Reading starts again from the followed topic's beginning."""

    def at_boundary(self) -> bool:
        """Whether the records read so far end where a record of the source topic ends."""

    def switch(self) -> int:
        """The followed topic's records are read: the source topic's offset to read from. The followed
        topic's later records still reach the reader's handler."""

    def fold(self, record: ConsumerRecord) -> None:
        """One record of the source topic."""


class BroadcastReader:
    def __init__(self, topic: str, handle: RecordHandler, then: Continuation | None = None) -> None:
        self.topic = topic
        self.handle = handle
        self.then = then
        self.caught_up = asyncio.Event()
        self.records_read = 0
        self.failed = 0
        self.last_error: str | None = None
        self._rejecting: set[asyncio.Task[None]] = set()

    async def follow(self, broker_url: str, fetch_wait_ms: int) -> None:
        """Read the topic from the beginning, then every new record, until cancelled; with a ``then``, read
        the topic only to its end and go on with the continuation's topic from there."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers(broker_url),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_wait_ms,
        )
        await consumer.start()
        try:
            partitions = await _partitions(consumer, self.topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            then, switched, at_end_since = self.then, False, None
            if then is not None:
                then.begin()
            while True:
                # At or past the end seen at start (the embedded broker may report an end below the true one).
                if not switched and then is not None and await _at_or_past(consumer, ends):
                    at_end_since = at_end_since or time.monotonic()
                    if then.at_boundary() or time.monotonic() - at_end_since > BOUNDARY_WAIT_S:
                        # The followed topic stays assigned where it was: the continuation may still want
                        # some of its records (the activity copy: the writer's label delay).
                        tail = TopicPartition(then.topic, 0)
                        positions = {tp: await consumer.position(tp) for tp in partitions}
                        consumer.assign([*partitions, tail])
                        for tp, position in positions.items():
                            consumer.seek(tp, position)
                        consumer.seek(tail, then.switch())
                        ends = await consumer.end_offsets([tail])
                        switched = True
                        logger.info(
                            "%s: read to its end (%d records); following %s", self.topic, self.records_read, then.topic
                        )
                if not self.caught_up.is_set() and (then is None or switched) and await _at_or_past(consumer, ends):
                    self.caught_up.set()
                    logger.info("%s: caught up after %d records", self.topic, self.records_read)
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    handle = self._apply_tail if switched and tp.topic != self.topic else self._apply
                    for record in records:
                        await handle(record)
        finally:
            await consumer.stop()

    async def _apply_tail(self, record: ConsumerRecord) -> None:
        """A continuation's record. Never dead-lettered here: the continuation's topic has its own consumer
        that does (the activity fold), and every worker sending the same letter again would only repeat it."""
        self.records_read += 1
        assert self.then is not None
        try:
            self.then.fold(record)
        except Exception as exc:
            self.failed += 1
            self.last_error = f"{self.then.topic} offset {record.offset}: {type(exc).__name__}: {exc}"
            logger.warning("%s: record skipped at %s", self.topic, self.last_error)

    async def _apply(self, record: ConsumerRecord) -> None:
        """One record. A bad one goes to the dead-letter topic (from each worker, as each reads it whole) and
        never stops the reader; the commands validate before they write, so only a foreign writer sends one."""
        self.records_read += 1
        try:
            self.handle(record)
        except Exception as exc:
            await self._reject(record, exc)

    def reject_later(self, record: ConsumerRecord, exc: Exception) -> None:
        """A record found bad when first used, after it was read (a value a handler keeps undecoded):
        rejected as ``_apply`` rejects one, from a task, as the finder cannot wait for the send."""
        task = asyncio.get_running_loop().create_task(self._reject(record, exc))
        self._rejecting.add(task)
        task.add_done_callback(self._rejecting.discard)

    async def _reject(self, record: ConsumerRecord, exc: Exception) -> None:
        self.failed += 1
        self.last_error = f"offset {record.offset}: {type(exc).__name__}: {exc}"
        logger.error("%s: record rejected at %s", self.topic, self.last_error)
        letter = dead_letter_of(record, "schema", error_of(exc), f"broadcast:{self.topic}")
        worker_metrics.incr(counter(Family.DEAD_LETTER, letter.reason))
        await topics.dead_letter.send(key=record.key, value=letter.model_dump_json().encode())


async def _at_or_past(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} does not exist (fraudwatch creates it at start)")


class Followed:
    """The broadcast readers of this process, and the gate that holds decisions until they caught up.

    The gate closes only in a worker (Faust's on_worker_init): unit tests and offline commands
    that import the agents never start the readers, so they must not wait for them.

    Readers start, and are waited for, in a table's recovery callback, which Faust awaits before
    it resumes the stream partitions; not as ``@app.task`` (Faust starts those only after recovery)
    and never by an agent that waits before taking its events. On recovery's end Faust seeks the
    streams to their committed offsets, then resumes flow control, which clears every agent's
    queue: an event fetched in between and still queued is dropped, and as its offset counts as
    read it is never fetched again (a restarted worker's detect agent, waiting for the models
    topic, lost the transactions validated during recovery that way).
    """

    def __init__(self) -> None:
        self.readers: list[BroadcastReader] = []
        self.gated = False
        self._followers: list[Follower] = []
        self._started = False

    def follow_before_streams(
        self, follow: Callable[[], Awaitable[None]], caught_up: Callable[[], Awaitable[object]]
    ) -> None:
        """Run ``follow`` for the worker's life; streams resume only after ``caught_up`` returned."""
        self._followers.append(Follower(follow, caught_up))

    async def start_and_catch_up(self) -> None:
        """Start the followers (once per process) and wait until each caught up: every recovery calls it."""
        if not self._started:
            self._started = True
            for follower in self._followers:
                app.add_future(follower.follow())
        for follower in self._followers:
            await follower.caught_up()

    async def ready(self) -> None:
        if self.gated:
            for reader in self.readers:
                if not reader.caught_up.is_set():
                    await reader.caught_up.wait()


@dataclass(frozen=True)
class Follower:
    follow: Callable[[], Awaitable[None]]
    caught_up: Callable[[], Awaitable[object]]


followed = Followed()
customer_behaviour.on_recover(followed.start_and_catch_up)


def follow_in_worker(topic: str, handle: RecordHandler, then: Continuation | None = None) -> BroadcastReader:
    """A reader of ``topic`` that every worker runs (see Followed), restarted after a broker error."""
    reader = BroadcastReader(topic, handle, then)
    followed.readers.append(reader)

    async def _follow() -> None:
        while True:
            try:
                await reader.follow(broker_url(settings), settings.broadcast_fetch_max_wait_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: reader failed; reading again from the beginning in 1 s", topic)
                await asyncio.sleep(1.0)

    followed.follow_before_streams(_follow, reader.caught_up.wait)
    return reader


@app.on_worker_init.connect
def _gate_decisions(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    followed.gated = True
