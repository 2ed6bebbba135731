"""The one shape of an agent that takes its topic's records one at a time, each guarded.

An agent module keeps what is its own (the topic, the handler, its stage name); the loop, the
dead-lettering of a record the handler cannot take and the timing are agents.dead_letter's
``process_guarded``. Batched agents (the decisions log) keep their own loop.
"""

from __future__ import annotations

from typing import Any

import faust

from agents.app import app
from agents.dead_letter import EventHandler, process_guarded


def guarded_agent(topic: faust.TopicT, handle: EventHandler, stage: str, *, name: str) -> Any:
    """Register an agent that runs ``handle`` on every event of ``topic``; returns the Faust agent.

    ``name`` is the agent's short name, as FRAUDWATCH_RUN_AGENTS / SKIP_AGENTS say it (agents/roles.py);
    the full name is ``<handler's module>.<name>``, as a decorated function of that module would have.
    """

    async def run(stream: faust.StreamT[bytes]) -> None:
        await process_guarded(stream, handle, stage)

    return app.agent(topic, name=f"{handle.__module__}.{name}")(run)
