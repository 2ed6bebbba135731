from __future__ import annotations

import pytest

from agents.roles import UnknownAgentError, select_agents

AGENTS = ("agents.validate.validate", "agents.detect.detect", "agents.notify.notify")


def test_a_role_runs_only_its_agents_or_all_but_the_skipped_ones() -> None:
    notifier = dict.fromkeys(AGENTS)
    assert select_agents(notifier, ["notify"], []) == ["detect", "validate"]
    assert list(notifier) == ["agents.notify.notify"]
    pipeline = dict.fromkeys(AGENTS)
    assert select_agents(pipeline, [], ["notify"]) == ["notify"]
    assert list(pipeline) == ["agents.validate.validate", "agents.detect.detect"]
    everything = dict.fromkeys(AGENTS)
    assert select_agents(everything, [], []) == [] and len(everything) == 3


def test_a_misspelt_agent_name_is_a_clear_error_not_a_silent_no_op() -> None:
    with pytest.raises(UnknownAgentError, match="notfy"):
        select_agents(dict.fromkeys(AGENTS), [], ["notfy"])
