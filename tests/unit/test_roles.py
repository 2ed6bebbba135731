from __future__ import annotations

import pytest

import agents.activity
import agents.cases
import agents.feedback
import agents.reference
from agents.app import app
from agents.roles import UnknownAgentError, select_agents
from config import get_settings
from config.topics import reference_topics

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


def test_guarded_agents_keep_the_names_roles_use_and_read_their_topics() -> None:
    settings = get_settings()
    expected = {
        "agents.activity.update_entity_activity": (agents.activity, [settings.topic_entity_activity]),
        "agents.cases.open_cases_from_alerts": (agents.cases, [settings.topic_alerts]),
        "agents.cases.apply_case_commands": (agents.cases, [settings.topic_case_commands]),
        "agents.feedback.apply_feedback": (agents.feedback, [settings.topic_feedback]),
        "agents.feedback.update_merchant_risk": (agents.feedback, [settings.topic_merchant_risk]),
        "agents.reference.load_reference_data": (agents.reference, list(reference_topics(settings))),
    }
    for name, (module, topics) in expected.items():
        agent = app.agents[name]
        assert getattr(module, name.rsplit(".", 1)[1]) is agent
        assert list(agent.channel.topics) == topics
