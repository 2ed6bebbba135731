"""A Faust consumer whose fetch loop never carries reads from before a seek past it.

Faust's fetch loop (``Consumer._drain_messages``) iterates a fetched batch record by record,
awaiting each record's delivery to the agents; a seek can run meanwhile (recovery's end seeks the
stream partitions to their committed offsets while it delivers: faust/tables/recovery.py). The
loop then carries on with the batch fetched from the old position and:

- sees the next old record as a jump from the offset the seek set, so it records the offsets in
  between as a gap (the offsets of compacted or transactional records), which the next commit
  counts as done; and
- after the record being delivered during the seek, sets the partition's read offset to it, so
  the records read again from the committed offset, below it, are dropped as already read.

Together: the records between the committed offset and the old batch were never processed, yet
committed (measured: 572 transactions of one partition lost after a wiped restart with a backlog).
Here, after a seek of its partition, a record of the old batch is not delivered, and the partition
is sought back to its committed offset (also when the seek came while a record was being
delivered, once that delivery returns). A seek counts from before it is handed to the consumer's
thread (which sets the read offset at once) until after it returns, so a fetch answered meanwhile
may hold records from the new position: they are dropped too, hence always the seek back, as
aiokafka's position is past them. Everything after the commit is read again: duplicates, never
a loss.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from faust.transport.consumer import Consumer, ensure_TP
from faust.types import TP, Message

logger = logging.getLogger(__name__)


async def seek_to_committed(consumer: Consumer, tp: TP) -> int:
    """Seek ``tp`` to its committed offset (its earliest when none is committed yet); the offset sought.

    Nothing below the committed offset is unprocessed, so no record is skipped, whatever was
    fetched or queued before."""
    committed = consumer._committed_offset.get(tp)
    if committed is None:
        committed = (await consumer.earliest_offsets(tp)).get(tp) or 0
    # Counted before the seek too: seek_wait hands the seek to the consumer's thread and awaits it,
    # and meanwhile the fetch loop goes on delivering the batch fetched from the old position. The
    # thread sets the read offset to ``committed``; an old record delivered after that would look
    # like a jump from it (a false gap, committed as done) or set the read offset back past what the
    # seek reads again (dropped as already read). Once counted, getmany drops the old batch.
    _count_seek(consumer, tp)
    # In the consumer's own thread: Consumer.seek calls aiokafka from the event loop's thread.
    await consumer.seek_wait({tp: committed})
    _count_seek(consumer, tp)
    return committed


def _count_seek(consumer: Consumer, tp: TP) -> None:
    if isinstance(consumer, SeekSafeConsumer):
        consumer._seeks_of[tp] += 1


def head_is_contiguous(committed: int, lowest_acked: int, skipped: Any) -> bool:
    """Whether every offset from ``committed`` up to ``lowest_acked`` is one the topic skips.

    ``skipped`` is Faust's interval tree of offsets the fetch jumped over (compacted or control
    records): those count as done, an offset that was fetched and not acknowledged does not.
    """
    return all(skipped.at(offset) for offset in range(committed, lowest_acked))


class SeekSafeConsumer(Consumer):
    """Consumer mixin: ``getmany`` drops what a seek made stale and repairs the read offset (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seeks_of: Counter[TP] = Counter()
        self._seeks_of_all = 0
        # Held while every partition is sought to its committed offset (recovery's end): a fresh
        # process learns the committed offsets from that seek, so a seek back waits for it rather
        # than going to the partition's earliest offset (the whole topic read again).
        self._seeking_all = asyncio.Lock()

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._seeks_of[ensure_TP(partition)] += 1

    async def perform_seek(self) -> None:
        async with self._seeking_all:
            self._seeks_of_all += 1  # before as well as after: see seek_to_committed
            await super().perform_seek()
            self._seeks_of_all += 1

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's next commit of ``tp``, but never past an unacknowledged record at the head.

        Faust refuses to commit past a gap at the head of a partition's acknowledged offsets only
        when it is wider than one (``min(acked) - committed > 1``): a lone record at the committed
        offset that was withheld (a batch cancelled at a stop or fenced at a rebalance,
        agents.batching.withhold_acks) was committed past and lost. Here the head must be the
        committed offset itself, or an offset the topic skips (Faust's gap record).
        """
        committed = self._committed_offset[tp]
        acked = self._acked[tp]
        if committed is not None and acked and not head_is_contiguous(committed, min(acked), self._gap[tp]):
            return None
        new_offset: int | None = super()._new_offset(tp)
        return new_offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109  # Faust's signature
        seeks_of, seeks_of_all = self._seeks_of, self._seeks_of_all
        before = seeks_of.copy()
        stale: set[TP] = set()

        def sought_since(tp: TP) -> bool:
            return self._seeks_of_all != seeks_of_all or seeks_of[tp] != before[tp]

        async for tp, message in super().getmany(timeout):
            if tp in stale:
                continue
            guarded = self.app.topics.acks_enabled_for(message.topic)  # not changelogs: recovery seeks those
            if guarded and sought_since(tp):
                # Fetched before the seek, or after it while it was still counted as in flight: no
                # telling which, and aiokafka's position is past these records either way, so they
                # are read again from the commit rather than dropped for good.
                await self._read_again_from_commit(tp, message.offset, "sought while it was fetched")
                stale.add(tp)
                continue
            yield tp, message
            if guarded and sought_since(tp):
                # The seek came during this record's delivery, and the loop has just set the read
                # offset to it: below it, what the seek reads again would be dropped.
                await self._read_again_from_commit(tp, message.offset, "sought while it was delivered")
                stale.add(tp)

    async def _read_again_from_commit(self, tp: TP, offset: int, why: str) -> None:
        """The fetch loop waits meanwhile, so no fetch of ``tp`` is in flight across this seek."""
        try:
            async with self._seeking_all:
                committed = await seek_to_committed(self, tp)
        except Exception:  # a rebalance took the partition meanwhile: its new owner reads from the commit
            logger.warning("%s: could not seek back to the committed offset", tp, exc_info=True)
        else:
            logger.info("%s %s %d: reading again from %d", tp, why, offset, committed)
