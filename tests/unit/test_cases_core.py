"""Cases in the core: one open case per customer, idempotent on replayed alerts, allowed moves only,
closing yields one analyst feedback record per alerted transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.rules import DEFAULT_RULES_FILE, load_rules
from detection.cases import CaseCommand, CaseError, apply_command, feedback_of, open_or_join, select_cases
from detection.rule_sets import RuleBook, publish_messages, rules_config_from_toml
from tests.alerts_fixture import make_alert

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def command(case_id: str, action: str, **fields: object) -> CaseCommand:
    return CaseCommand.model_validate(
        {"case_id": case_id, "customer_id": "C1", "action": action, "by": "ann", "at": NOW, **fields}
    )


def test_alerts_open_one_case_per_customer_and_a_replayed_alert_changes_nothing() -> None:
    first, second = make_alert(1, customer="C1"), make_alert(2, customer="C1")
    case, opened = open_or_join(None, first)
    assert opened and case.status == "open" and [a.alert_id for a in case.alerts] == [first.alert_id]
    joined, changed = open_or_join(case, second)
    assert changed and joined.case_id == case.case_id and len(joined.alerts) == 2
    again, changed = open_or_join(joined, second)
    assert not changed and again == joined
    assert open_or_join(None, first)[0].case_id == case.case_id  # the id is stable across a replay


def test_status_moves_and_closing_yields_feedback_for_every_alerted_transaction() -> None:
    opened, _ = open_or_join(None, make_alert(1, customer="C1"))
    case, _ = open_or_join(opened, make_alert(2, customer="C1"))
    case = apply_command(case, command(case.case_id, "assign", assignee="ann"))
    case = apply_command(case, command(case.case_id, "status", status="investigating"))
    with pytest.raises(CaseError, match="investigating -> open is not allowed"):
        apply_command(case, command(case.case_id, "status", status="open"))
    case = apply_command(case, command(case.case_id, "comment", text="called the customer"))
    closed = apply_command(case, command(case.case_id, "status", status="closed_fraud"))
    assert closed.closed_by == "ann" and closed.assignee == "ann" and closed.comments[0].text == "called the customer"
    feedback = feedback_of(closed, NOW)
    assert sorted(f.transaction_id for f in feedback) == ["N1", "N2"]
    assert all(f.is_fraud and f.source == "analyst" and f.alert_id and f.customer_id == "C1" for f in feedback)
    with pytest.raises(CaseError, match="is closed"):
        apply_command(closed, command(case.case_id, "comment", text="late"))
    assert feedback_of(case, NOW) == []  # an open case says nothing yet
    assert select_cases([closed, case], status="closed")[0] == [closed]


def test_a_rules_file_text_becomes_records_or_a_clear_error() -> None:
    config = rules_config_from_toml(DEFAULT_RULES_FILE.read_text())
    assert config == load_rules(environ={})
    book = RuleBook(config)
    keys = [key for key, _ in publish_messages(book, config, "shadow", "ann", "why", NOW)]
    assert keys == [f"rule-set:{config.rules_version}".encode(), b"shadow"]
    with pytest.raises(ValueError, match="alert_threshold"):
        rules_config_from_toml(DEFAULT_RULES_FILE.read_text().replace("alert_threshold = 50", "alert_threshold = 300"))
    with pytest.raises(ValueError, match="not TOML"):
        rules_config_from_toml("version = ")
