"""Faust's flow control, except that the events it drops from agents' queues are not lost.

Faust clears every agent's queue when flow resumes or stops (mode's FlowControlEvent). Two faults
follow, both seen in the integration tests:

- Lost events. At the end of recovery Faust resumes the stream partitions, seeks them to their
  committed offsets, and only then resumes flow, clearing the queues: an event fetched after the
  seek and not yet taken by its agent is dropped, and as its offset already counts as read it is
  never fetched again. So when flow resumes, a dropped event's partition is sought back to its
  committed offset, and the event is read and processed again. Not to the dropped event itself:
  the queue may also hold events fetched before the seek, and seeking forward to one of those
  would skip what lies between the commit and it (agents.consumer_seeks). A clear on stop or
  rebalance only forgets (recovery then seeks to the committed offsets anyway; seeking to an old
  offset there would skip a restarted broker's young log).
- A stop that never ends. The dropped events are never acknowledged, and on stop Faust waits
  (``wait_empty``) until no started message is left; its set of them is weak, but a message
  another agent consumed too stays referenced by that agent's stream, so SIGTERM waited until the
  kill (the email sink retrying an unreachable SMTP server held the newest alerts, the cases agent
  the same messages). So a dropped message also stops counting as started; it is not
  acknowledged, so it is read again after the restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from faust.transport.consumer import Consumer
from faust.types import TP, AppT, ConsumerT
from mode.utils.queues import FlowControlEvent

from agents.consumer_seeks import seek_to_committed

logger = logging.getLogger(__name__)


class ForgettingFlowControl(FlowControlEvent):
    def __init__(self, app: AppT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self._rereads: set[asyncio.Future[None]] = set()

    def resume(self) -> None:
        """Resume flow; what the clear drops is read again (recovery's end resumes after seeking)."""
        consumer: ConsumerT | None = getattr(self.app, "_consumer", None)  # app.consumer would create one
        dropped = self._forget_queued(consumer)
        super().resume()
        if consumer is not None and dropped and not self.app.should_stop:
            reread = asyncio.ensure_future(self._read_again(consumer, dropped))
            self._rereads.add(reread)
            reread.add_done_callback(self._rereads.discard)

    def clear(self) -> None:
        """Stop or rebalance: only forget (the next recovery seeks every stream to its committed offset)."""
        self._forget_queued(getattr(self.app, "_consumer", None))
        super().clear()

    def _forget_queued(self, consumer: ConsumerT | None) -> dict[TP, int]:
        """Stop counting the queued events as started; the lowest queued offset per partition."""
        started = getattr(consumer, "_unacked_messages", None)
        dropped: dict[TP, int] = {}
        for queue in self._queues:
            for event in list(queue._queue):  # type: ignore[attr-defined]  # asyncio.Queue's deque
                message = getattr(event, "message", None)
                if message is None:
                    continue
                if started is not None:
                    started.discard(message)
                dropped[message.tp] = min(message.offset, dropped.get(message.tp, message.offset))
        return dropped

    async def _read_again(self, consumer: ConsumerT, dropped: dict[TP, int]) -> None:
        assigned = consumer.assignment()
        changelogs = self.app.tables.changelog_topics  # table recovery keeps its own positions
        for tp, offset in sorted(dropped.items()):
            if tp not in assigned or tp.topic in changelogs:
                continue
            try:
                committed = await seek_to_committed(cast(Consumer, consumer), tp)
            except Exception:  # a rebalance took the partition meanwhile: its new owner reads from the commit
                logger.warning("could not seek %s back to its committed offset", tp, exc_info=True)
            else:
                logger.info("%s: events from %d dropped from a queue; reading again from %d", tp, offset, committed)
