"""The detect path's records, encoded from plain data, are the models' own encodings (issue 11).

The reference each time is the contract model built field by field and its ``model_dump_json``,
as the worker wrote them before: the audit record of a decision (topic fraudwatch.audit) and the
decision record (topic fraud.decisions and, without its vector, the decisions table).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from detection.audit import (
    AuditRecord,
    DecisionDetails,
    ShadowOutcome,
    audit_id_for,
    audit_message,
    decision_audit_value,
)
from detection.decisions import DecisionRecord, activity_deltas, decision_entry
from detection.decisions import decision_record as decision_log_record
from detection.engine import Detector
from detection.model import load_model
from detection.models import Transaction
from detection.shadow import shadow_verdict
from detection.state import CustomerState
from detection.verdict import Verdict, judge
from tests.unit.detection_fixtures import tx
from tests.unit.loop_fixtures import linear_artifact
from tests.unit.test_operations_core import CONFIG, NOW, book_of, entry

SHADOW = ShadowOutcome(rules_version="v2+def", score=50, alert=True)


def stream(count: int = 40) -> list[tuple[Transaction, Verdict]]:
    """A customer's burst, scored in order by a detector with a champion: reasons, alerts, a model."""
    detector = Detector(CONFIG).with_model(load_model(linear_artifact("c1", weight=0.1)))
    state, scored = CustomerState(), []
    for n in range(count):
        transaction = tx(n, seconds=7.0 * n, amount=5.0 + 120.0 * (n % 9), city="Berlin" if n % 2 else None)
        decision = detector.evaluate(transaction, state)
        detector.learn(state, transaction, decision)
        scored.append((transaction, judge(transaction, decision, book_of(), CONFIG)))
    return scored


def model_audit_value(
    transaction: Transaction,
    verdict: Verdict,
    rules_offset: int | None,
    shadow: ShadowOutcome | None,
    at: datetime,
) -> bytes:
    """The audit record as the worker built it before: the model, validated, and its JSON."""
    decision = verdict.decision
    record = AuditRecord(
        audit_id=audit_id_for("decision", transaction.transaction_id, "decided", "v1+abc"),
        kind="decision",
        subject=transaction.transaction_id,
        action="decided",
        actor="worker:h:1",
        at=at,
        reason=", ".join(r.code for r in decision.reasons) or None,
        decision=DecisionDetails(
            transaction=transaction,
            score=decision.score,
            severity=decision.severity,
            action=verdict.action,
            alert_published=verdict.publish,
            listed=verdict.listed,
            list_entries=[e.key for e in verdict.matched],
            reasons=decision.reasons,
            anomaly=round(decision.anomaly, 4),
            features=decision.features.as_dict(),
            rules_version="v1+abc",
            rules_offset=rules_offset,
            model_version=decision.model_version,
            learned=True,
            shadow=shadow,
        ),
    )
    return audit_message(record)[1]


def audit_value(
    transaction: Transaction, verdict: Verdict, rules_offset: int | None, shadow: ShadowOutcome | None, at: datetime
) -> bytes:
    return decision_audit_value(
        transaction,
        verdict,
        rules_version="v1+abc",
        rules_offset=rules_offset,
        model_version=verdict.decision.model_version,
        learned=True,
        shadow=shadow,
        actor="worker:h:1",
        at=at,
    )


@pytest.mark.parametrize(
    ("rules_offset", "shadow", "at"),
    [
        (None, None, NOW),
        (7, SHADOW, NOW + timedelta(microseconds=250)),
        (None, SHADOW, NOW.astimezone(timezone(timedelta(hours=2)))),
    ],
)
def test_a_decisions_audit_value_is_the_records_own_json_byte_for_byte(
    rules_offset: int | None, shadow: ShadowOutcome | None, at: datetime
) -> None:
    scored = stream()
    assert {v.decision.alert for _, v in scored} == {True, False} and any(v.decision.reasons for _, v in scored)
    for transaction, verdict in scored:
        value = audit_value(transaction, verdict, rules_offset, shadow, at)
        assert value == model_audit_value(transaction, verdict, rules_offset, shadow, at)
        record = AuditRecord.model_validate_json(value)
        assert record.decision is not None and record.decision.transaction == transaction


def test_listed_decisions_keep_their_list_and_entries_in_the_audit_value() -> None:
    for kind in ("allow", "suppress"):
        transaction, verdict = stream()[-1]
        verdict = judge(transaction, verdict.decision, book_of(entry(kind)), CONFIG)
        assert verdict.matched
        value = audit_value(transaction, verdict, None, None, NOW)
        assert value == model_audit_value(transaction, verdict, None, None, NOW)


def test_a_feature_that_is_not_a_json_number_is_written_as_null_as_the_model_writes_it() -> None:
    transaction, verdict = stream()[-1]
    features = dataclasses.replace(verdict.decision.features, travel_kmh=float("inf"), amount_z=float("nan"))
    verdict = dataclasses.replace(verdict, decision=dataclasses.replace(verdict.decision, features=features))
    value = audit_value(transaction, verdict, None, None, NOW)
    assert value == model_audit_value(transaction, verdict, None, None, NOW)
    written = json.loads(value)["decision"]["features"]
    assert written["travel_kmh"] is None and written["amount_z"] is None


def test_the_audit_value_reads_back_as_the_record_it_encodes() -> None:
    transaction, verdict = stream()[-1]
    value = audit_value(transaction, verdict, None, None, NOW)
    assert audit_message(AuditRecord.model_validate_json(value))[1] == value


def test_a_decision_entry_holds_the_decision_records_json_for_the_topic_and_without_the_vector_for_the_table() -> None:
    shadow_model = load_model(linear_artifact("s1", weight=0.1))
    for transaction, verdict in stream():
        decision = verdict.decision
        for shadow in (None, shadow_verdict(decision, shadow_model, CONFIG)):
            entry_ = decision_entry(transaction, decision, "v1+abc", shadow)
            model = decision_log_record(transaction, decision, "v1+abc", shadow)
            assert entry_.topic_value == model.model_dump_json().encode()
            assert entry_.table_value == model.model_dump_json(exclude={"feature_vector"}).encode()
            assert DecisionRecord.model_validate_json(entry_.topic_value) == model
            assert (entry_.transaction_id, entry_.ts, entry_.replay) == (
                model.transaction_id,
                model.ts,
                model.replay,
            )


def test_entries_and_records_count_the_same_terminal_and_merchant_activity() -> None:
    scored = stream()
    entries = [decision_entry(t, v.decision, "v1+abc") for t, v in scored]
    records = [decision_log_record(t, v.decision, "v1+abc") for t, v in scored]
    assert activity_deltas(entries) == activity_deltas(records) != []


def test_a_model_probability_that_is_not_a_number_is_null_in_both_values() -> None:
    transaction, verdict = stream()[-1]
    decision = dataclasses.replace(verdict.decision, model_probability=float("nan"))
    entry_ = decision_entry(transaction, decision, "v1+abc")
    assert entry_.topic_value == decision_log_record(transaction, decision, "v1+abc").model_dump_json().encode()
    assert json.loads(entry_.table_value)["model_probability"] is None
    assert datetime.fromtimestamp(entry_.ts, UTC) == transaction.timestamp
