"""Batches and rebalances take turns, so a partition's tables are written only by the worker that owns it.

The worker stops without draining its fetched backlog (``stream_wait_empty`` off, agents.app), and
with that setting Faust's rebalance does not wait for its agents either: it pauses the partitions,
flushes the producer and gives them up while a batch handler is still running, and the events a
batch stream had already taken (up to a whole batch) are handled after the rebalance as if
nothing happened. So a worker went on writing customer state, locally and to the changelog, for
partitions another worker had just restored, and the acknowledgement of those late changelog
records moved the stored offset of a partition it no longer owned past the new owner's writes:
when the partition came back, the restore skipped them (session 7: 7 of 40 customers' counts wrong
after a handover). Faust's own per-event streams skip events fetched before a rebalance
(``message.generation_id``); a batch that holds them must do the same.

Here: a batch starts only while no rebalance is under way (flow control active), without the
events fetched in an older generation (they are not acknowledged, so the partition's owner reads
them again from the committed offset), and a rebalance waits for the batch in flight to finish and
its offsets to be committed before the partitions are given up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import faust
from faust.types import AppT, ConsumerT

logger = logging.getLogger(__name__)

Event = faust.EventT[bytes]


class BatchFence:
    """Counts the batches in flight; a rebalance waits until there are none."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    async def admit(self, app: AppT, events: Sequence[Event]) -> tuple[list[Event], list[Event]]:
        """(events to handle now, events fetched before the latest rebalance), once no rebalance is under way.

        Must be followed by ``running()`` with no await in between, so a rebalance that begins
        after this returns waits for the batch.
        """
        # Flow control is suspended from a revoke until recovery ends, and from a stop on. A stop is left
        # as it was (the batch runs or is cancelled and withheld): a batch held here until cancelled
        # withheld a lone event at the head of its partition, and Faust commits past a one-offset gap
        # there (Consumer._new_offset: "min(acked) - committed > 1"), so it was lost (test_sigterm).
        while not app.flow_control.is_active() and not app.should_stop:
            await app.flow_control.acquire()
        generation = app.consumer_generation_id
        current = [event for event in events if event.message.generation_id == generation]
        stale = [event for event in events if event.message.generation_id != generation]
        return current, stale

    @contextmanager
    def running(self) -> Iterator[None]:
        self._in_flight += 1
        self._idle_event().clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle_event().set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until no batch is in flight (True), or ``timeout_s`` passed (False)."""
        if not self._in_flight:
            return True
        try:
            await asyncio.wait_for(self._idle_event().wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:  # created in the worker's loop, on first use
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle


batch_fence = BatchFence()


async def finish_batches_before_revoke(consumer: ConsumerT, timeout_s: float) -> None:
    """What a rebalance does before giving partitions up: let the batches in flight finish, commit what they did.

    Bounded by ``timeout_s`` (the session timeout: aiokafka keeps heartbeating during a revoke). A wait
    past the group's rebalance timeout makes this worker join late and costs one more rebalance,
    which is cheaper than two workers writing one partition. A batch still running at the bound is
    logged and left to finish as before.
    """
    running, began = batch_fence.in_flight, time.monotonic()
    if not await batch_fence.wait_idle(timeout_s):
        logger.warning("rebalance: %d batch(es) still running after %.1f s", batch_fence.in_flight, timeout_s)
        return
    if running:
        logger.info("rebalance: waited %.2f s for %d batch(es) in flight", time.monotonic() - began, running)
    try:
        await consumer.commit()  # flushes the producer first: the batch's records are stored before its offsets
    except Exception:  # the partitions' next owner reads the uncommitted events again: at least once
        logger.warning("rebalance: committing the finished batches failed", exc_info=True)
