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

from agents.app import app
from agents.consumer_seeks import SeekSafeConsumer

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
    assert sought == [(FIRST, COMMITTED), (SECOND, COMMITTED), (SECOND, COMMITTED)]  # the second once more
