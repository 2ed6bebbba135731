"""A seek while Faust's fetch loop delivers a fetched batch: nothing from before the seek is carried past it.

Faust's real fetch loop (``Consumer._drain_messages``) and ``getmany`` run here on the worker's
consumer class; only the broker's side is scripted: one fetch returns offsets 10-19 of two
partitions whose committed offsets are 10, and recovery's seek to the committed offsets comes
while offset 12 of the second is being delivered (agents.consumer_seeks). Without the fix, the
first partition's next record, 13, looked like a jump from the sought 10 (a gap: 11-13 counted as
done, then committed), and the second's read offset was left at 12 (10 and 11, read again, dropped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP, Message
from mode import Service

from agents import fetch_loop
from agents.app import app
from agents.consumer_seeks import SeekSafeConsumer, seek_to_committed

TOPIC = "seek-test.raw"
FIRST, SECOND = TP(TOPIC, 0), TP(TOPIC, 1)
COMMITTED = 10


def records(tp: TP, offsets: range) -> list[Any]:
    fields = {"timestamp": 0, "timestamp_type": 0, "headers": [], "key": b"k", "value": b"v", "checksum": None}
    sizes = {"serialized_key_size": 1, "serialized_value_size": 1}
    return [SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o, **fields, **sizes) for o in offsets]


async def test_a_seek_during_a_delivery_leaves_no_gap_and_reads_again_from_the_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.finalize()
    monkeypatch.setattr(app.transport, "loop", asyncio.get_running_loop())  # not an earlier test's loop
    consumer = app._new_consumer()  # the worker's consumer class
    assert isinstance(consumer, SeekSafeConsumer)
    fetches = [{tp: records(tp, range(10, 20)) for tp in (FIRST, SECOND)}]
    sought: list[tuple[TP, int]] = []
    delivered: list[tuple[int, int]] = []
    fetcher = Service()

    async def wait_next_records(timeout: float) -> tuple[Mapping[TP, list[Any]] | None, set[TP]]:  # noqa: ASYNC109
        if not fetches:
            fetcher._stopped.set()
            return None, {FIRST, SECOND}
        return fetches.pop(0), {FIRST, SECOND}

    async def seek_to_committed() -> dict[TP, int]:
        sought.extend([(FIRST, COMMITTED), (SECOND, COMMITTED)])
        return {FIRST: COMMITTED, SECOND: COMMITTED}

    async def record_seek(partitions: Mapping[TP, int]) -> None:
        sought.extend(partitions.items())
        consumer._read_offset.update(partitions)

    async def deliver(message: Message) -> None:
        delivered.append((message.partition, message.offset))
        if (message.partition, message.offset) == (1, 12):  # recovery's end seeks the stream partitions meanwhile
            await consumer.perform_seek()

    monkeypatch.setattr(consumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(consumer, "seek_wait", record_seek)
    monkeypatch.setattr(consumer, "callback", deliver)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 20)
    monkeypatch.setattr(app.topics, "_acking_topics", {TOPIC})
    for tp in (FIRST, SECOND):
        consumer._committed_offset[tp] = consumer._read_offset[tp] = COMMITTED

    await asyncio.wait_for(consumer._drain_messages(fetcher), timeout=30)

    # Round robin over the two partitions; from 13 on the records came from before the seek.
    assert delivered == [(0, 10), (1, 10), (0, 11), (1, 11), (0, 12), (1, 12)]
    assert not consumer._gap[FIRST]
    assert consumer._read_offset == {FIRST: COMMITTED, SECOND: COMMITTED}
    # Recovery's seek of both, then the second once more (sought during its delivery), then the
    # first, whose old 13 was dropped: aiokafka's position was past it.
    assert sought == [(FIRST, COMMITTED), (SECOND, COMMITTED), (SECOND, COMMITTED), (FIRST, COMMITTED)]


class ScriptedLog:
    """Two partitions holding offsets 10-19, committed at 10, read through Faust's real fetch loop.

    The broker's side only: a fetch returns what lies from each partition's position on, and a seek
    runs like the consumer thread's ``_seek_wait``: it moves the position and sets the partition's
    read offset at once, then its round trip lets the event loop run on (the fetch loop delivering
    the rest of the batch fetched before) until the next fetch, which the thread answers after it.
    """

    END = 20

    def __init__(self, consumer: SeekSafeConsumer) -> None:
        self.consumer = consumer
        self.position = {FIRST: COMMITTED, SECOND: COMMITTED}
        self.delivered: list[tuple[int, int]] = []
        self.fetcher = Service()
        self.fetch_requested = asyncio.Event()
        self.seeks_in_flight = 0
        self.seeks_done = asyncio.Event()
        self.sought = asyncio.Event()  # the thread has moved the position (and set the read offset)
        self.seeks: list[tuple[TP, int]] = []

    async def wait_next_records(self, timeout: float) -> tuple[Mapping[TP, list[Any]] | None, set[TP]]:  # noqa: ASYNC109
        self.fetch_requested.set()
        while self.seeks_in_flight:  # the thread answers the fetch after the seek it is running
            self.seeks_done.clear()
            await self.seeks_done.wait()
        self.fetch_requested.clear()
        fetched = {tp: records(tp, range(at, self.END)) for tp, at in self.position.items() if at < self.END}
        if not fetched:
            self.fetcher._stopped.set()
            return None, {FIRST, SECOND}
        self.position = dict.fromkeys(self.position, self.END)
        return fetched, {FIRST, SECOND}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        """The thread's ``_seek_wait``: it sets the read offsets itself."""
        self.consumer._read_offset.update(partitions)
        await self._seek(partitions)

    async def seek_to_committed(self) -> dict[TP, int]:
        """The thread's seek of every partition to the offset the broker has committed for it."""
        committed = dict.fromkeys(self.position, COMMITTED)
        await self._seek(committed)
        return committed

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return dict.fromkeys(partitions, 0)

    async def _seek(self, partitions: Mapping[TP, int]) -> None:
        self.seeks_in_flight += 1
        self.position.update(partitions)
        self.seeks.extend(partitions.items())
        self.sought.set()
        for _ in range(1000):  # the round trip: the loop runs on until the fetch loop asks for more
            if self.fetch_requested.is_set():
                break
            await asyncio.sleep(0)
        self.seeks_in_flight -= 1
        self.seeks_done.set()

    def install(self, monkeypatch: pytest.MonkeyPatch, deliver: Any) -> None:
        monkeypatch.setattr(self.consumer, "_wait_next_records", self.wait_next_records)
        monkeypatch.setattr(self.consumer, "seek_wait", self.seek_wait)
        monkeypatch.setattr(self.consumer, "seek_to_committed", self.seek_to_committed)
        monkeypatch.setattr(self.consumer, "earliest_offsets", self.earliest_offsets)
        monkeypatch.setattr(self.consumer, "callback", deliver)
        monkeypatch.setattr(self.consumer, "highwater", lambda tp: self.END)
        monkeypatch.setattr(app.topics, "_acking_topics", {TOPIC})
        for tp in (FIRST, SECOND):
            self.consumer._committed_offset[tp] = self.consumer._read_offset[tp] = COMMITTED

    def delivered_since(self, index: int, tp: TP) -> set[int]:
        return {offset for partition, offset in self.delivered[index:] if partition == tp.partition}


@pytest.mark.parametrize("delivering", [FIRST, SECOND], ids=["its-own-record", "another-partitions-record"])
async def test_records_fetched_before_a_seek_are_not_delivered_while_the_seek_is_in_flight(
    monkeypatch: pytest.MonkeyPatch, delivering: TP
) -> None:
    """A seek of FIRST to its commit (the flow control's re-read) lands while offset 12 of ``delivering`` is delivered.

    Its round trip lets the fetch loop go on with the old batch. Counted only once the seek returned,
    FIRST's old 13-19 went on being delivered after the read offset was set to 10: as a jump from 10
    (gap 11-13, committed as done) or, when FIRST's own 12 was in delivery, after the loop set the read
    offset back to 12, so that 10-12, read again, were dropped as already read. Counted before and
    after, the fetch the loop sent while the seek was in flight, answered from the new position,
    was dropped as stale with aiokafka's position past it: 10-19 never delivered again."""
    app.finalize()
    monkeypatch.setattr(app.transport, "loop", asyncio.get_running_loop())
    consumer = app._new_consumer()
    assert isinstance(consumer, SeekSafeConsumer)
    log = ScriptedLog(consumer)
    seek_started_at: list[int] = []
    seeking: list[asyncio.Task[int]] = []

    async def deliver(message: Message) -> None:
        log.delivered.append((message.partition, message.offset))
        if (message.partition, message.offset) == (delivering.partition, 12) and not seeking:
            seek_started_at.append(len(log.delivered))
            seeking.append(asyncio.ensure_future(seek_to_committed(consumer, FIRST)))
            await log.sought.wait()  # the seek lands during this delivery

    log.install(monkeypatch, deliver)

    await asyncio.wait_for(consumer._drain_messages(log.fetcher), timeout=30)

    assert await seeking[0] == COMMITTED
    assert not consumer._gap[FIRST], "old records after the seek recorded a false gap"
    # Everything from the commit on is delivered after the seek: duplicates, never a loss.
    assert log.delivered_since(seek_started_at[0], FIRST) >= set(range(COMMITTED, log.END))
    assert log.delivered_since(0, SECOND) == set(range(COMMITTED, log.END))
    assert consumer._read_offset == {FIRST: log.END - 1, SECOND: log.END - 1}


async def test_a_record_dropped_during_recoverys_seek_is_read_again_from_the_commit_not_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restarted worker: the committed offsets are known once recovery's seek of every partition returns.

    Recovery's ``perform_seek`` lands while FIRST's 12 is delivered; the guard seeks FIRST back as
    soon as that delivery returns. Not waiting for the seek in flight, it found no committed offset
    yet and went to the partition's earliest: the whole topic read again."""
    app.finalize()
    monkeypatch.setattr(app.transport, "loop", asyncio.get_running_loop())
    consumer = app._new_consumer()
    assert isinstance(consumer, SeekSafeConsumer)
    log = ScriptedLog(consumer)
    seeking: list[asyncio.Task[None]] = []
    seek_started_at: list[int] = []

    async def deliver(message: Message) -> None:
        log.delivered.append((message.partition, message.offset))
        if (message.partition, message.offset) == (0, 12) and not seeking:
            seek_started_at.append(len(log.delivered))
            seeking.append(asyncio.ensure_future(consumer.perform_seek()))
            await log.sought.wait()

    log.install(monkeypatch, deliver)
    consumer._committed_offset.clear()  # a fresh process: known only from recovery's seek on

    await asyncio.wait_for(consumer._drain_messages(log.fetcher), timeout=30)

    await seeking[0]
    assert all(offset == COMMITTED for _, offset in log.seeks), log.seeks
    assert (FIRST, COMMITTED) in log.seeks[2:]  # sought again after recovery's seek of both
    assert not consumer._gap[FIRST]
    assert log.delivered_since(seek_started_at[0], FIRST) >= set(range(COMMITTED, log.END))
    assert consumer._read_offset == {FIRST: log.END - 1, SECOND: log.END - 1}


async def test_a_lone_unacknowledged_record_at_the_head_is_never_committed_past(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust's own rule lets a one-offset head gap through: committed 10, acked 11-13 gave 14, and 10 was lost."""
    app.finalize()
    monkeypatch.setattr(app.transport, "loop", asyncio.get_running_loop())
    consumer = app._new_consumer()
    assert isinstance(consumer, SeekSafeConsumer)

    def acked(tp: TP, offsets: list[int]) -> None:
        consumer._committed_offset[tp] = COMMITTED
        consumer._acked[tp] = list(offsets)
        consumer._acked_index[tp] = set(offsets)

    acked(FIRST, [11, 12, 13])  # 10 withheld (a cancelled batch's lone event)
    assert consumer._new_offset(FIRST) is None
    acked(FIRST, [10, 11, 12, 13])  # 10 handled later (read again after the seek back)
    assert consumer._new_offset(FIRST) == 14
    acked(SECOND, [12, 13])  # 10 and 11 are offsets the topic skips (compacted): done
    consumer._gap[SECOND].addi(10, 12)
    assert consumer._new_offset(SECOND) == 14


async def test_a_seek_landing_in_the_fetch_loops_yield_leaves_no_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's fetch loop delivers without waiting (agents.fetch_loop) and yields every YIELD_EVERY records.

    A seek of SECOND to its commit runs in the yield after FIRST's 12 is delivered. Yielding before
    the offset check of the record already taken (SECOND's old 12), the loop saw 12 as a jump from the
    10 the seek set: 11 recorded as a gap, committed as done. Yielding after a delivery, getmany sees
    the seek before handing out SECOND's next record, and SECOND is read again from the commit."""
    app.finalize()
    monkeypatch.setattr(app.transport, "loop", asyncio.get_running_loop())
    consumer = app._new_consumer()
    assert isinstance(consumer, SeekSafeConsumer)
    log = ScriptedLog(consumer)
    monkeypatch.setattr(fetch_loop, "YIELD_EVERY", 5)  # (0,10) (1,10) (0,11) (1,11) (0,12), then the yield
    monkeypatch.setattr(consumer, "_delivers_at_once", lambda tp: True)
    seeking: list[asyncio.Task[int]] = []

    async def deliver(message: Message) -> None:  # never suspends, as the conductor's callback with room
        log.delivered.append((message.partition, message.offset))
        if not seeking:
            seeking.append(asyncio.ensure_future(seek_to_committed(consumer, SECOND)))  # runs at the first yield

    log.install(monkeypatch, deliver)

    await asyncio.wait_for(consumer._drain_messages(log.fetcher), timeout=30)

    assert await seeking[0] == COMMITTED
    assert log.delivered[:5] == [(0, 10), (1, 10), (0, 11), (1, 11), (0, 12)]
    assert not consumer._gap[SECOND], "the record held across the seek recorded a false gap"
    assert log.delivered_since(5, SECOND) >= set(range(COMMITTED, log.END))  # read again from the commit
    assert consumer._read_offset == {FIRST: log.END - 1, SECOND: log.END - 1}
