from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest

from config.rules import load_rules
from detection.activity import EntityActivity, day_of, hour_of
from detection.decisions import (
    DecisionRecord,
    EntityActivityBatch,
    EntityActivityDelta,
    activity_deltas,
    activity_record_deltas,
    apply_activity_delta,
    decision_record,
    fraud_deltas,
    training_set,
)
from detection.engine import Detector
from detection.features import FEATURE_NAMES, FEATURE_SET, feature_set_id
from detection.model import load_model
from detection.models import Feedback
from detection.shadow import shadow_verdict
from detection.state import CustomerState
from tests.unit.detection_fixtures import T0, tx
from tests.unit.loop_fixtures import linear_artifact

CONFIG = load_rules(None, {})
DAY = 86_400.0


def logged(n: int, seconds: float = 0.0, terminal_id: str = "M1-T0") -> DecisionRecord:
    transaction = tx(n, seconds, terminal_id=terminal_id)
    decision = Detector(CONFIG).evaluate(transaction, CustomerState())
    return decision_record(transaction, decision, CONFIG.rules_version)


def feedback(n: int, is_fraud: bool, known_after_s: float) -> Feedback:
    return Feedback(
        transaction_id=f"T{n}",
        customer_id="C1",
        is_fraud=is_fraud,
        known_at=T0 + timedelta(seconds=known_after_s),
        source="chargeback",
    )


def test_a_record_keeps_the_features_as_scored_and_the_models_that_scored_them() -> None:
    transaction = tx(1, amount=900.0)
    champion = load_model(linear_artifact("c1", weight=0.01))
    detector = Detector(CONFIG).with_model(champion)
    decision = detector.evaluate(transaction, CustomerState())
    shadow = shadow_verdict(decision, load_model(linear_artifact("s1", weight=0.1)), CONFIG)
    record = DecisionRecord.model_validate_json(
        decision_record(transaction, decision, detector.rules_version, shadow).model_dump_json()
    )
    assert record.feature_vector == decision.feature_vector and record.feature_set == FEATURE_SET
    assert (record.model_version, record.shadow_version, record.terminal_id) == ("c1", "s1", "M1-T0")
    assert record.model_probability is not None and record.shadow_probability is not None
    assert record.shadow_probability > 0.99 and record.shadow_alert  # 900 EUR: the shadow alone would alert
    assert record.model_probability < 0.99


def test_decisions_become_one_delta_per_entity_with_counts_per_hour_and_replays_do_not_count() -> None:
    records = [logged(1), logged(2, 60), logged(3, DAY, terminal_id="M1-T9")]
    records.append(records[0].model_copy(update={"replay": True}))
    deltas = {d.entity: d.hours for d in activity_deltas(records)}
    hour = hour_of(T0.timestamp())
    assert deltas == {
        "terminal:M1-T0": {hour: 2},
        "merchant:M1": {hour: 2, hour + 24: 1},
        "terminal:M1-T9": {hour + 24: 1},
    }


def test_a_batch_record_carries_every_entitys_delta_in_order_and_a_bare_delta_still_reads() -> None:
    records = [logged(1), logged(2, DAY, terminal_id="M1-T9")]
    deltas = activity_deltas(records)
    batch = EntityActivityBatch(deltas=deltas).model_dump_json().encode()
    assert activity_record_deltas(batch) == deltas
    # Records written before batches: one entity's delta, applied as before.
    assert activity_record_deltas(deltas[0].model_dump_json().encode()) == [deltas[0]]
    for bad in (b'{"deltas": []}', b'{"hours": {"1": 2}}', b"[]"):
        with pytest.raises(pydantic.ValidationError):
            activity_record_deltas(bad)


def test_an_activity_delta_of_format_1_counts_per_day() -> None:
    activity = EntityActivity()
    day = day_of(T0.timestamp())
    apply_activity_delta(activity, EntityActivityDelta(entity="terminal:M1-T0", transactions={day: 3}))
    assert activity.window(T0.timestamp(), 1, 0) == (3, 0)  # counted in the day's first hour


def test_a_chargeback_naming_only_the_transaction_teaches_its_terminal_and_merchant_once() -> None:
    record = logged(7, 3600)
    chargeback = feedback(7, True, 5 * DAY)  # no terminal, no merchant
    deltas = fraud_deltas(chargeback, record)
    assert {d.entity for d in deltas} == {"terminal:M1-T0", "merchant:M1"}
    assert all(d.frauds[0].timestamp == record.timestamp for d in deltas)  # counted in the transaction's hour
    activity = EntityActivity()
    apply_activity_delta(activity, activity_deltas([record])[0])
    for _ in range(2):  # a redelivered chargeback counts once
        apply_activity_delta(activity, deltas[0])
    assert activity.window(record.ts, 1, 0) == (0, 0)  # a window ends before the hour scored
    assert activity.window(record.ts + 3600, 1, 0) == (1, 1)
    assert fraud_deltas(feedback(7, False, DAY), record) == []
    assert fraud_deltas(chargeback, None) == []


def test_training_set_uses_only_what_was_known_at_the_cut_off() -> None:
    records = [logged(n, n * 60.0) for n in range(1, 6)]
    records.append(records[0].model_copy(update={"score": 99}))  # a replayed decision is not a new example
    # The same names in an older feature version, and a record from before versions were recorded.
    records.append(logged(9, 600).model_copy(update={"feature_set": feature_set_id(FEATURE_NAMES, 1)}))
    records.append(logged(10, 610).model_copy(update={"feature_set": FEATURE_SET.split("-", 1)[1]}))
    labels = [
        feedback(1, True, DAY),
        feedback(1, False, 2 * DAY),  # the latest verdict known at the cut-off wins
        feedback(2, True, 3 * DAY),  # known after the cut-off: not used
        feedback(3, True, DAY),
        feedback(42, True, DAY),  # a transaction not in the log
    ]
    cutoff = (T0 + timedelta(days=2, hours=12)).timestamp()
    joined = training_set(records, labels, since=T0.timestamp() + 60, cutoff=cutoff)
    assert [d.transaction_id for d in joined.decisions] == ["T1", "T2", "T3", "T4", "T5"]
    assert joined.decisions[0].vector == records[0].feature_vector
    assert {t: o.is_fraud for t, o in joined.outcomes.items()} == {"T1": False, "T3": True}
    assert joined.other_feature_set == 2
    later = training_set(records, labels, since=T0.timestamp() + 120, cutoff=cutoff)
    assert [d.transaction_id for d in later.decisions] == ["T2", "T3", "T4", "T5"]
