"""The operations core: list precedence and expiry, decision bands, rule-set switching, audit explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from config.rules import load_rules
from detection.audit import AuditRecord, ShadowOutcome, decision_audit_value, explain
from detection.decision_bands import action_for
from detection.engine import Decision, Detector
from detection.lists import ListBook, ListEntry
from detection.models import BlacklistEntry, Transaction
from detection.reference import CustomerReference
from detection.rule_sets import RuleBook, RuleSetPublished, RulesPointer, UnknownRuleSetError
from detection.rules_config import DecisionBands
from detection.state import CustomerState
from detection.verdict import judge
from tests.unit.detection_fixtures import T0, tx

CONFIG = load_rules(environ={})
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def burst_decision(reference: CustomerReference | None = None, amount: float = 40.0) -> tuple[Transaction, Decision]:
    """The 5th transaction within a minute: VELOCITY fires (score 54 with the anomaly term: an alert)."""
    detector, state = Detector(CONFIG), CustomerState()
    for n in range(4):
        earlier = tx(n, n * 5.0)
        detector.learn(state, earlier, detector.evaluate(earlier, state, reference))
    last = tx(4, 20.0, amount=amount)
    return last, detector.evaluate(last, state, reference)


def entry(
    list_name: str, scope: str = "customer", entity: str = "C1", rule: str | None = None, **kw: object
) -> ListEntry:
    return ListEntry.model_validate(
        {
            "list": list_name,
            "scope": scope,
            "entity_id": entity,
            "rule": rule,
            "reason": "test",
            "created_by": "ann",
            "created_at": NOW,
            **kw,
        }
    )


def book_of(*entries: ListEntry) -> ListBook:
    book = ListBook()
    for e in entries:
        book.put(e)
    return book


def test_without_lists_the_rules_decide_and_the_bands_give_the_action() -> None:
    transaction, decision = burst_decision()
    verdict = judge(transaction, decision, ListBook(), CONFIG)
    assert [r.code for r in decision.reasons] == ["VELOCITY"] and decision.score == 54
    assert verdict.publish and verdict.action == "review" and verdict.listed is None


def test_an_allow_entry_for_the_customer_allows_and_publishes_nothing() -> None:
    transaction, decision = burst_decision()
    verdict = judge(transaction, decision, book_of(entry("allow")), CONFIG)
    assert verdict.action == "allow" and verdict.listed == "allow_list" and not verdict.publish
    assert verdict.decision.score == 54  # the score stays visible (audit), only the outcome changes


def test_an_allow_entry_for_one_rule_removes_that_rule_and_rescores() -> None:
    transaction, decision = burst_decision()
    verdict = judge(transaction, decision, book_of(entry("allow", "terminal", "M1-T0", rule="VELOCITY")), CONFIG)
    assert verdict.decision.reasons == [] and verdict.decision.score == 9 and not verdict.publish  # anomaly only
    other_rule = judge(transaction, decision, book_of(entry("allow", rule="HIGH_AMOUNT")), CONFIG)
    assert other_rule.publish and other_rule.decision.score == 54


def test_the_block_list_wins_over_an_allow_entry() -> None:
    listed = CustomerReference(blacklist=BlacklistEntry(customer_id="C1", reason="mule", listed_at=T0))
    transaction, decision = burst_decision(listed)
    verdict = judge(transaction, decision, book_of(entry("allow"), entry("suppress")), CONFIG)
    assert verdict.listed == "block_list" and verdict.publish and verdict.action == "block"


def test_suppression_mutes_the_alert_but_keeps_score_and_action() -> None:
    transaction, decision = burst_decision()
    verdict = judge(transaction, decision, book_of(entry("suppress", "merchant", "M1")), CONFIG)
    assert verdict.suppressed and not verdict.publish and verdict.decision.alert and verdict.action == "review"


def test_suppressing_one_rule_mutes_only_alerts_caused_by_it_alone() -> None:
    transaction, decision = burst_decision(amount=3500.0)  # VELOCITY and HIGH_AMOUNT
    assert {r.code for r in decision.reasons} == {"VELOCITY", "HIGH_AMOUNT"}
    partly = judge(transaction, decision, book_of(entry("suppress", rule="VELOCITY")), CONFIG)
    assert partly.publish
    both = book_of(entry("suppress", rule="VELOCITY"), entry("suppress", rule="HIGH_AMOUNT"))
    assert judge(transaction, decision, both, CONFIG).suppressed


def test_an_entry_has_no_effect_from_its_expiry_on_by_event_time() -> None:
    transaction, decision = burst_decision()
    expiring = entry("allow", expires_at=transaction.timestamp + timedelta(seconds=1))
    assert judge(transaction, decision, book_of(expiring), CONFIG).listed == "allow_list"
    expired = entry("allow", expires_at=transaction.timestamp)
    assert judge(transaction, decision, book_of(expired), CONFIG).publish


def test_a_newer_entry_for_the_same_key_replaces_the_old_and_remove_drops_it() -> None:
    book = book_of(entry("allow", reason="old"), entry("allow", reason="new"))
    assert len(book) == 1 and book.entries()[0].reason == "new"
    book.remove(book.entries()[0].key)
    assert len(book) == 0 and book.matching(tx(1)) == []


def test_decision_bands() -> None:
    bands = DecisionBands(review=50, block=85)
    assert [action_for(s, bands) for s in (0, 49, 50, 84, 85, 100)] == [
        "allow",
        "allow",
        "review",
        "review",
        "block",
        "block",
    ]
    with pytest.raises(ValidationError, match="must not be below"):
        DecisionBands(review=90, block=80)


def _published(version: str) -> RuleSetPublished:
    config = CONFIG.model_copy(update={"version": version})
    return RuleSetPublished(
        rules_version=config.rules_version, config=config, published_at=NOW, published_by="ann", reason="r"
    )


def _pointer(role: str, version: str | None) -> RulesPointer:
    return RulesPointer.model_validate(
        {"role": role, "rules_version": version, "changed_at": NOW, "changed_by": "bo", "reason": "why"}
    )


def test_the_rule_book_switches_at_the_pointer_offset_and_rolls_back() -> None:
    book = RuleBook(CONFIG)
    assert book.version_of("active") == CONFIG.rules_version and book.version_of("shadow") is None
    new = _published("2027.1")
    assert book.apply(new, 0) is None  # published is not yet active
    switch = book.apply(_pointer("active", new.rules_version), 1)
    assert switch is not None and (switch.role, switch.rules_version, switch.offset) == ("active", new.rules_version, 1)
    assert book.apply(_pointer("active", new.rules_version), 2) is None  # the same version again: no switch
    back = book.apply(_pointer("active", CONFIG.rules_version), 3)
    assert back is not None and book.config_of(back.rules_version or "") is CONFIG
    with pytest.raises(UnknownRuleSetError, match="never published"):
        book.apply(_pointer("shadow", "nope"), 4)
    assert book.version_of("shadow") is None


def test_explain_names_the_decision_versions_reasons_lists_and_features() -> None:
    transaction, decision = burst_decision()
    verdict = judge(transaction, decision, book_of(entry("allow")), CONFIG)
    value = decision_audit_value(
        transaction,
        verdict,
        rules_version="v1+abc",
        rules_offset=7,
        model_version=None,
        learned=True,
        shadow=ShadowOutcome(rules_version="v2+def", score=50, alert=True),
        actor="worker:h:1",
        at=NOW,
    )
    text = explain(AuditRecord.model_validate_json(value))
    for expected in (
        "decision ALLOW - score 54",
        "by the allow list",
        "rules version v1+abc (switched to at rules offset 7)",
        "reason VELOCITY",
        "allow:customer:C1:*",
        "shadow rules v2+def: score 50, would alert",
        "count_1m=5",
        "learned into the customer's state: yes",
    ):
        assert expected in text
