"""Agents that take their stream in batches and produce what a batch yields in one go.

Faust's per-event machinery, not the detection core, bounds a worker (bench/worker_throughput.py).
A batch handler reads and writes each customer's state once, and every record the batch yields
is collected in the batch's outbox (tables.batched) and handed straight to the Kafka producer
when the handler returns. Faust flushes the producer before it commits the
events' offsets, and refuses to commit after a failed delivery (agents.transport.DeliveryGuard),
so offsets are committed only after every effect is stored: at least once.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import faust
from faust.streams import _current_event

from agents.app import app
from agents.batch_fence import batch_fence
from agents.dead_letter import handle_guarded
from agents.prometheus import batch_events, event_processing_seconds
from agents.record_batches import send_as_batches
from tables.batched import Outbound, collecting_outbox

logger = logging.getLogger(__name__)

Event = faust.EventT[bytes]
BatchHandler = Callable[[Sequence[Event]], Awaitable[None]]


async def process_in_batches(
    stream: faust.StreamT[bytes], handle_batch: BatchHandler, stage: str, *, max_events: int, within_s: float
) -> None:
    """Run ``handle_batch`` on up to ``max_events`` events at a time.

    ``within_s`` > 0 waits up to that long to fill a batch (Faust's ``take_events``): for agents
    that gather on purpose (the decisions log sums a second of decisions into one activity update).
    ``within_s`` = 0 takes what has arrived, without waiting: a batch ends when the stream's queue
    is empty, so an idle stream costs no timer wake-ups and a lone record no wait. In a backlog the
    fetch loop puts a fetched batch in the queue at once (agents.fetch_loop), so the agent finds
    hundreds waiting and takes up to ``max_events``.

    Handlers deal with a bad record themselves (dead-letter it, go on with the rest). If a
    handler raises anyway, the batch is run again one record at a time, so only the record at
    fault goes to dead-letter; records before it may be sent twice, which at-least-once allows
    (alert ids are stable and a replayed transaction is not learned twice). Never let an
    exception escape: Faust restarts a crashed agent and its consumers slowly die (#175).
    """
    batches = _arrived(stream, max_events) if within_s == 0 else _taken(stream, max_events, within_s)
    async for events, acknowledge in batches:
        started = time.perf_counter()
        try:
            current, fetched_before_rebalance = await batch_fence.admit(app, events)
            withhold_acks(fetched_before_rebalance)  # their partition's owner reads them again
            if not current:
                continue
            # A rebalance waits for this batch (agents.batch_fence) and then commits: the batch is acked
            # before that, here (arrived batches) or by take_events as soon as this loop asks for the next
            # batch (taken ones: acking them here too would count a message another agent reads twice).
            with batch_fence.running():
                await _run_or_alone(handle_batch, current, stage)
                await acknowledge(events)  # the withheld ones are skipped (agents.batching.withhold_acks)
        except BaseException:
            withhold_acks(events)
            raise
        observe_batch(stage, len(current), time.perf_counter() - started)


Acknowledge = Callable[[Sequence[Event]], Awaitable[None]]


async def _taken(
    stream: faust.StreamT[bytes], max_events: int, within_s: float
) -> AsyncIterator[tuple[Sequence[Event], Acknowledge]]:
    # take_events is on faust.Stream, the class of every agent's stream, but not on StreamT; it acks
    # a batch's events itself when the next batch is asked for.
    async for events in cast(faust.Stream[bytes], stream).take_events(max_events, within_s):
        yield events, _acked_by_faust


async def _acked_by_faust(events: Sequence[Event]) -> None:
    return None


async def _arrived(stream: faust.StreamT[bytes], max_events: int) -> AsyncIterator[tuple[Sequence[Event], Acknowledge]]:
    """Batches of the events already in the stream's queue, acknowledged once handled.

    Faust's take_events wakes its agent every ``within`` even when nothing arrives; this waits on
    the stream alone. Manual acks keep at-least-once: an event counts as done only after its batch.
    """
    manual = cast(faust.Stream[bytes], stream).noack()
    waiting = manual.channel.queue  # type: ignore[attr-defined]  # the channel's queue of fetched events

    async def acknowledge(events: Sequence[Event]) -> None:
        for event in events:
            await manual.ack(event)

    batch: list[Event] = []
    async for event in manual.events():
        batch.append(event)
        if len(batch) < max_events and waiting.qsize():
            continue
        events, batch = batch, []
        yield events, acknowledge


def observe_batch(stage: str, events: int, seconds: float) -> None:
    """Each event of a batch took its share of the batch's time (the processing-time histogram is per event)."""
    batch_events.labels(stage).observe(events)
    histogram = event_processing_seconds.labels(stage)
    for _ in range(events):
        histogram.observe(seconds / events)


async def _run_or_alone(handle_batch: BatchHandler, events: Sequence[Event], stage: str) -> None:
    try:
        await _run(handle_batch, events)
    except Exception:
        logger.exception("%s: a batch of %d failed; retrying it record by record", stage, len(events))
        for event in events:
            await _handle_alone(handle_batch, event, stage)


def withhold_acks(events: Sequence[Event]) -> None:
    """Keep the offsets of a batch that was cancelled half done (a stop) out of every commit.

    take_events acks a batch's events when its generator is closed, even when the batch never
    finished, and the worker's last commit on stop would then count them as done. Faust's ack
    skips a message already marked acked, so they are never committed here and are read again
    after the restart (at least once).
    """
    for event in events:
        event.message.acked = True


async def _run(handle_batch: BatchHandler, events: Sequence[Event]) -> None:
    with collecting_outbox() as outbox:
        await handle_batch(events)
    await produce(outbox)


async def produce(records: Sequence[Outbound]) -> None:
    """Hand ``records`` to the producer in order, without waiting for the broker's answer.

    Waiting for each batch's acknowledgements measured slower under load (the agent idles for
    a broker round trip per batch); Faust flushes the producer before committing offsets, and
    the consumer refuses to commit after a failed delivery (agents.transport.DeliveryGuard).
    """
    # Faust's Producer.send only forwards to aiokafka's, one record at a time.
    await send_as_batches(app.producer._ensure_producer(), records)  # type: ignore[attr-defined]


async def _handle_alone(handle_batch: BatchHandler, event: Event, stage: str) -> None:
    """One record as a batch of its own, guarded as a per-event agent is: a bad record goes to
    dead-letter, a data dir that cannot take writes stops the worker (agents.dead_letter)."""
    await handle_guarded(event, lambda alone: _run(handle_batch, [alone]), stage)


@contextmanager
def in_partition_of(event: Event) -> Iterator[None]:
    """Make ``event`` the current one, so table reads and writes go to its partition's store and changelog.

    Faust picks a table's partition from the event being processed; in a batch that is the last
    one taken, which may belong to another partition.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
