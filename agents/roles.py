"""Which agents a worker runs: all by default, or a role such as the notifier alone (compose.yaml).

A role must come with an app id of its own (FRAUDWATCH_APP_ID): workers of one consumer group share
out every topic's partitions between them, so a notifier in the pipeline's group would be handed
transaction partitions it never reads.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any


class UnknownAgentError(ValueError):
    """FRAUDWATCH_RUN_AGENTS or FRAUDWATCH_SKIP_AGENTS names an agent that does not exist."""


def short_name(agent_name: str) -> str:
    """'agents.notify.notify' -> 'notify' (the names the settings use)."""
    return agent_name.rsplit(".", 1)[-1]


def select_agents(agents: MutableMapping[str, Any], run: Iterable[str], skip: Iterable[str]) -> list[str]:
    """Drop the agents this worker does not run, before they start; returns the short names dropped."""
    run, skip = set(run), set(skip)
    known = {short_name(name) for name in agents}
    unknown = (run | skip) - known
    if unknown:
        raise UnknownAgentError(f"no agent named {sorted(unknown)}; agents are {sorted(known)}")
    dropped = [name for name in agents if (run and short_name(name) not in run) or short_name(name) in skip]
    for name in dropped:
        del agents[name]
    return sorted(short_name(name) for name in dropped)
