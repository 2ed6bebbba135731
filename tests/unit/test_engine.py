from __future__ import annotations

from datetime import timedelta

from config.rules import load_rules
from detection.alert import alert_id_for, build_alert, mask
from detection.engine import Detector
from detection.models import Customer, Feedback
from detection.reference import CustomerReference, MerchantRisk
from detection.scoring import risk_score, severity_of
from detection.state import CustomerState
from tests.unit.detection_fixtures import T0, tx

CONFIG = load_rules(environ={})


def run(detector: Detector, state: CustomerState, *transactions: object, **kwargs: object) -> list:  # type: ignore[type-arg]
    decisions = []
    for transaction in transactions:
        decision = detector.evaluate(transaction, state, **kwargs)  # type: ignore[arg-type]
        detector.learn(state, transaction, decision)  # type: ignore[arg-type]
        decisions.append(decision)
    return decisions


def test_windows_count_only_what_is_inside_them() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    *_, last = run(detector, state, tx(1, 0), tx(2, 3000), tx(3, 3570), tx(4, 3600))
    f = last.features
    assert (f.count_1m, f.count_1h, f.count_24h) == (2, 4, 4)
    late = detector.evaluate(tx(5, 90_000), state)
    assert (late.features.count_1h, late.features.count_24h) == (1, 2)


def test_state_is_bounded_and_round_trips_through_json() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    run(detector, state, *[tx(i, i * 60.0) for i in range(CONFIG.state_max_transactions + 30)])
    assert len(state.recent) == CONFIG.state_max_transactions
    assert CustomerState.from_json(state.to_json()) == state
    run(detector, state, tx(999, 10 * 86_400.0))
    assert [item.transaction_id for item in state.recent] == ["T999"]  # older than the window: dropped


def test_a_replayed_transaction_is_scored_the_same_and_learned_once() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    first = run(detector, state, tx(1, 0, amount=3500.0))[0]
    before = state.to_json()
    again = detector.evaluate(tx(1, 0, amount=3500.0), state)
    assert again.duplicate and not detector.learn(state, tx(1, 0, amount=3500.0), again)
    assert state.to_json() == before
    assert again.score == first.score and [r.code for r in again.reasons] == [r.code for r in first.reasons]


def test_impossible_travel_and_new_country_after_a_habit_at_home() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    run(detector, state, *[tx(i, i * 600.0) for i in range(5)])
    sao_paulo = tx(9, 3000.0, country="BR", latitude=-23.55, longitude=-46.63)
    decision = detector.evaluate(sao_paulo, state)
    assert {"IMPOSSIBLE_TRAVEL", "UNUSUAL_LOCATION"} <= {r.code for r in decision.reasons}
    assert decision.alert and decision.severity in {"high", "critical"}


def test_card_testing_then_cash_out_is_critical() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    decisions = run(detector, state, *[tx(i, i * 20.0, amount=1.0) for i in range(4)], tx(9, 100.0, amount=900.0))
    assert "CARD_TESTING" in {r.code for r in decisions[-1].reasons}
    assert decisions[-1].severity == "critical"


def test_reference_data_and_feedback_raise_the_score() -> None:
    detector = Detector(CONFIG)
    plain = detector.evaluate(tx(1), CustomerState())
    reference = CustomerReference(
        profile=Customer(customer_id="C1", name="A", home_country="DE", account_opened=T0.date(), typical_spend=40.0)
    )
    from detection.feedback import apply_customer_feedback

    for n in range(2):
        apply_customer_feedback(
            reference,
            Feedback(transaction_id=f"X{n}", is_fraud=True, known_at=T0 - timedelta(days=n), customer_id="C1"),
        )
    terminal = MerchantRisk(confirmed_frauds=[(T0.timestamp() - 3600 * i, f"F{i}") for i in range(3)])
    risky = detector.evaluate(tx(1), CustomerState(), reference=reference, terminal=terminal)
    assert {r.code for r in risky.reasons} == {"HIGH_RISK_CUSTOMER", "RISKY_MERCHANT"}
    assert risky.score > plain.score


def test_score_is_a_noisy_or_of_weights_and_severity_bands_hold() -> None:
    detector = Detector(CONFIG)
    decision = detector.evaluate(tx(1, amount=3000.0), CustomerState())
    assert risk_score(decision.reasons, 0.0, CONFIG.anomaly) == round(100 * CONFIG.rules.high_amount.weight)
    assert risk_score([], 1.0, CONFIG.anomaly) == round(100 * CONFIG.anomaly.weight)
    bands = CONFIG.severity
    assert [severity_of(s, bands) for s in (bands.medium - 1, bands.medium, bands.high, bands.critical, 100)] == [
        "low",
        "medium",
        "high",
        "critical",
        "critical",
    ]


def test_alert_id_is_stable_per_transaction_and_rules_version() -> None:
    assert alert_id_for("T1", "v1") == alert_id_for("T1", "v1")
    assert alert_id_for("T1", "v1") != alert_id_for("T1", "v2") != alert_id_for("T2", "v1")


def test_alert_masks_the_account_number_and_carries_reasons() -> None:
    detector = Detector(CONFIG)
    reference = CustomerReference(
        profile=Customer(
            customer_id="C1",
            name="A",
            account_number="DE89 3704 0044 0532 0130 00",
            home_country="DE",
            account_opened=T0.date(),
            typical_spend=40.0,
        )
    )
    transaction = tx(1, amount=5000.0)
    decision = detector.evaluate(transaction, CustomerState(), reference=reference)
    alert = build_alert(
        transaction,
        decision,
        reference,
        detector.rules_version,
        T0 + timedelta(seconds=1),
        T0 + timedelta(milliseconds=990),
    )
    assert alert.customer.account_number_masked == "*" * 18 + "3000"
    assert "DE89" not in alert.model_dump_json()
    assert alert.alert_id == alert_id_for("T1", detector.rules_version)
    assert alert.detection_latency_ms == 10.0
    assert alert.reasons and alert.schema_version == "1.0"
    assert mask(None) is None and mask("12") == "12"
