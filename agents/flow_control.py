"""Faust's flow control, except that events it drops from agents' queues stop counting as in progress.

When a worker stops (and when a rebalance or recovery resumes flow), Faust clears every agent's
queue. The dropped events were never processed, so they are never acknowledged; Faust's consumer
still tracks their messages as started (a WeakSet, which only forgets a message once nothing
references it) and, on stop, ``wait_empty`` waits until none is left. A message that another
agent consumed too stays referenced by that agent's stream (its last event lingers in the
iterator), so the stop waits until the process is killed: with SMTP unreachable the email sink's
queue holds the newest alerts, the cases agent holds the same messages, and SIGTERM never
finished. Forgetting a dropped message without acknowledging it keeps at least once: its offset
is not committed, so it is read again after the restart.
"""

from __future__ import annotations

from typing import Any

from faust.types import AppT
from mode.utils.queues import FlowControlEvent


class ForgettingFlowControl(FlowControlEvent):
    def __init__(self, app: AppT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    def clear(self) -> None:
        unacked = self._started_messages()
        for queue in self._queues:
            if unacked is not None:
                for event in list(queue._queue):  # type: ignore[attr-defined]  # asyncio.Queue's deque
                    message = getattr(event, "message", None)
                    if message is not None:
                        unacked.discard(message)
            queue.clear()

    def _started_messages(self) -> Any:
        """The consumer's set of started, unacknowledged messages, if it was created."""
        consumer = getattr(self.app, "_consumer", None)  # app.consumer would create one
        return getattr(consumer, "_unacked_messages", None) if consumer is not None else None
