"""A rebalance and a batch take turns (agents.batch_fence): the exact sequences that broke a handover."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import cast

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from agents.app import app
from agents.batching import Event, process_in_batches
from agents.flow_control import ForgettingFlowControl
from tests.unit.faust_harness import TopicCapture

TOPIC = "fence-test.rekeyed"


def event(offset: int, generation: int) -> Event:
    message = ConsumerMessage(TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None, generation_id=generation)
    return faust.Event(app, b"k", b"v", None, message)


class TakenBatches:
    """A stream as process_in_batches reads it: batches already taken from the consumer, acked as Faust's are."""

    def __init__(self, *batches: list[Event]) -> None:
        self.batches = batches

    async def take_events(self, max_: int, within: float) -> AsyncIterator[Sequence[Event]]:
        for batch in self.batches:
            try:
                yield batch
            finally:  # take_events acks every event it yielded when the consumer asks for the next batch
                for taken in batch:
                    taken.ack()

    async def ack(self, taken: Event) -> bool:
        return bool(taken.ack())


@pytest.fixture
async def consumer(monkeypatch: pytest.MonkeyPatch) -> Consumer:
    app.finalize()
    TopicCapture().install(monkeypatch)  # a batch's records go nowhere
    monkeypatch.setattr(app.topics, "_acking_topics", {TOPIC})
    monkeypatch.setattr(app, "consumer_generation_id", 3)
    real = cast(Consumer, app.consumer)
    real._acked.pop(TP(TOPIC, 0), None)
    real._acked_index.pop(TP(TOPIC, 0), None)
    # the worker's flow control, bound to this test's loop (the app's own was made for another)
    monkeypatch.setattr(app, "flow_control", ForgettingFlowControl(app, loop=asyncio.get_running_loop()))
    app.flow_control.resume()
    return real


async def test_a_rebalance_waits_for_the_batch_in_flight_and_commits_it_before_giving_partitions_up(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    committed: list[list[int]] = []

    async def handle(events: Sequence[Event]) -> None:
        entered.set()
        await release.wait()  # the batch is still writing state when the revoke begins

    async def commit(*_: object, **__: object) -> bool:
        committed.append(list(consumer._acked[TP(TOPIC, 0)]))
        return True

    monkeypatch.setattr(consumer, "commit", commit)
    stream = TakenBatches([event(0, 3), event(1, 3)])
    batches = asyncio.create_task(
        process_in_batches(cast(faust.StreamT[bytes], stream), handle, "detect", max_events=10, within_s=0.01)
    )
    await entered.wait()
    revoke = asyncio.create_task(app._consumer_wait_empty(consumer, logging.getLogger("test")))
    await asyncio.sleep(0.2)
    assert not revoke.done()  # before the fence, the revoke went ahead while the batch wrote on
    release.set()
    await asyncio.wait_for(revoke, 5)
    assert committed == [[0, 1]]  # the finished batch's offsets, committed before the partitions go
    await batches


async def test_a_batch_taken_during_a_rebalance_waits_for_it_and_leaves_older_events_to_the_partitions_owner(
    consumer: Consumer,
) -> None:
    handled: list[int] = []

    async def handle(events: Sequence[Event]) -> None:
        handled.extend(taken.message.offset for taken in events)

    fetched_before = [event(5, 2), event(6, 2)]  # taken before the latest rebalance (generation 2)
    fetched_after = [event(7, 3)]
    app.flow_control.suspend()  # a rebalance under way: revoke done, recovery not finished
    stream = TakenBatches(fetched_before + fetched_after)
    batches = asyncio.create_task(
        process_in_batches(cast(faust.StreamT[bytes], stream), handle, "detect", max_events=10, within_s=0.01)
    )
    await asyncio.sleep(0.2)
    assert handled == []  # not while the partitions are being handed over
    app.flow_control.resume()
    await asyncio.wait_for(batches, 5)
    assert handled == [7]
    assert consumer._acked[TP(TOPIC, 0)] == [7]  # 5 and 6 are not committed: read again by their owner
