"""The one shape of an agent that applies its topic's records one by one, each guarded, taken in batches.

An agent module keeps what is its own (the topic, the handler, its stage name); the loop, the
dead-lettering of a record the handler cannot take and the timing are here and in
agents.dead_letter. Records are taken in batches of what has arrived (agents.batching), and a
table write to a batched table (tables.batched) goes out with the batch. Each record is still handled alone, in its own
partition's context, and a bad one goes to dead-letter without touching the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from agents.app import app
from agents.batching import Event, in_partition_of, process_in_batches
from agents.dead_letter import EventHandler, handle_guarded
from config import get_settings

settings = get_settings()


def guarded_agent(topic: faust.TopicT, handle: EventHandler, stage: str, *, name: str) -> Any:
    """Register an agent that runs ``handle`` on every event of ``topic``; returns the Faust agent.

    ``name`` is the agent's short name, as FRAUDWATCH_RUN_AGENTS / SKIP_AGENTS say it (agents/roles.py);
    the full name is ``<handler's module>.<name>``, as a decorated function of that module would have.
    """

    async def handle_each(events: Sequence[Event]) -> None:
        for event in events:
            with in_partition_of(event):
                await handle_guarded(event, handle, stage)

    async def run(stream: faust.StreamT[bytes]) -> None:
        # within_s=0: take what has arrived, never wait to fill a batch. These topics are quiet most of
        # the time, and a take_events wait wakes its agent every 5 ms even with nothing to read:
        # six such agents were half of an idle worker's CPU (bench/RESULTS.md, session 8).
        await process_in_batches(stream, handle_each, stage, max_events=settings.batch_max_events, within_s=0)

    return app.agent(topic, name=f"{handle.__module__}.{name}")(run)
