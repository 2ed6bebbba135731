"""Every rule at its boundary: it fires at the threshold and stays silent just below it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from config.rules import load_rules
from detection.features import Features
from detection.rules import RULES, enabled_rules

CONFIG = load_rules(environ={})
R = CONFIG.rules

NEUTRAL = Features(
    ts=1_767_225_600.0,
    amount_eur=40.0,
    count_1m=1,
    count_1h=1,
    count_24h=1,
    amount_24h_eur=40.0,
    small_before=0,
    history=20,
    amount_z=0.0,
    typical_spend_ratio=1.0,
    new_country=False,
    country="DE",
    distance_from_home_km=5.0,
    travel_km=None,
    travel_kmh=None,
    new_device=False,
    blacklisted=False,
    credit_score=700,
    recent_reports=0,
    merchant_frauds=0,
    terminal_frauds=0,
    duplicate=False,
)


def fires(rule: str, **changes: Any) -> bool:
    params = getattr(R, rule)
    return RULES[rule](dataclasses.replace(NEUTRAL, **changes), params) is not None


def test_a_neutral_transaction_fires_nothing() -> None:
    assert not any(fires(name) for name in RULES)


@pytest.mark.parametrize(
    ("rule", "firing", "silent"),
    [
        (
            "high_amount",
            {"amount_eur": R.high_amount.threshold_eur},
            {"amount_eur": R.high_amount.threshold_eur - 0.01},
        ),
        ("velocity", {"count_1m": R.velocity.max_per_minute + 1}, {"count_1m": R.velocity.max_per_minute}),
        ("velocity", {"count_1h": R.velocity.max_per_hour + 1}, {"count_1h": R.velocity.max_per_hour}),
        ("blacklisted", {"blacklisted": True}, {"blacklisted": False}),
        (
            "high_risk_customer",
            {"credit_score": R.high_risk_customer.min_credit_score - 1},
            {"credit_score": R.high_risk_customer.min_credit_score},
        ),
        (
            "high_risk_customer",
            {"recent_reports": R.high_risk_customer.min_reports},
            {"recent_reports": R.high_risk_customer.min_reports - 1},
        ),
        (
            "amount_deviation",
            {"amount_z": R.amount_deviation.z_threshold, "amount_eur": 500.0},
            {"amount_z": R.amount_deviation.z_threshold - 0.01, "amount_eur": 500.0},
        ),
        (
            "amount_deviation",
            {
                "history": R.amount_deviation.min_history - 1,
                "typical_spend_ratio": R.amount_deviation.typical_spend_ratio,
                "amount_eur": 500.0,
            },
            {
                "history": R.amount_deviation.min_history - 1,
                "typical_spend_ratio": R.amount_deviation.typical_spend_ratio - 0.01,
                "amount_eur": 500.0,
            },
        ),
        (
            "amount_deviation",
            {"amount_z": 10.0, "amount_eur": R.amount_deviation.min_amount_eur},
            {"amount_z": 10.0, "amount_eur": R.amount_deviation.min_amount_eur - 0.01},
        ),
        (
            "unusual_location",
            {"new_country": True, "history": R.unusual_location.min_history},
            {"new_country": True, "history": R.unusual_location.min_history - 1},
        ),
        (
            "unusual_location",
            {"distance_from_home_km": R.unusual_location.far_from_home_km},
            {"distance_from_home_km": R.unusual_location.far_from_home_km - 0.1},
        ),
        (
            "impossible_travel",
            {"travel_km": 1000.0, "travel_kmh": R.impossible_travel.max_speed_kmh + 0.1},
            {"travel_km": 1000.0, "travel_kmh": R.impossible_travel.max_speed_kmh},
        ),
        (
            "impossible_travel",
            {"travel_km": R.impossible_travel.min_distance_km, "travel_kmh": 5000.0},
            {"travel_km": R.impossible_travel.min_distance_km - 0.1, "travel_kmh": 5000.0},
        ),
        (
            "risky_merchant",
            {"terminal_frauds": R.risky_merchant.min_terminal_frauds},
            {"terminal_frauds": R.risky_merchant.min_terminal_frauds - 1},
        ),
        (
            "risky_merchant",
            {"merchant_frauds": R.risky_merchant.min_merchant_frauds},
            {"merchant_frauds": R.risky_merchant.min_merchant_frauds - 1},
        ),
        (
            "card_testing",
            {"small_before": R.card_testing.min_small_transactions, "amount_eur": R.card_testing.large_amount_eur},
            {"small_before": R.card_testing.min_small_transactions - 1, "amount_eur": R.card_testing.large_amount_eur},
        ),
        (
            "card_testing",
            {"small_before": R.card_testing.min_small_transactions, "amount_eur": 1.0},
            {"small_before": R.card_testing.min_small_transactions, "amount_eur": 50.0},
        ),
    ],
)
def test_rule_boundary(rule: str, firing: dict[str, Any], silent: dict[str, Any]) -> None:
    assert fires(rule, **firing)
    assert not fires(rule, **silent)


def test_reasons_explain_in_words_and_numbers() -> None:
    reason = RULES["velocity"](dataclasses.replace(NEUTRAL, count_1m=7, count_1h=9), R.velocity)
    assert reason is not None
    assert reason.code == "VELOCITY" and "7 transactions in the last minute" in reason.description
    assert reason.values["count_1m"] == 7 and reason.weight == R.velocity.weight


def test_a_switched_off_rule_never_runs() -> None:
    config = load_rules(environ={"FRAUDWATCH_RULE_BLACKLISTED_ENABLED": "false"})
    assert RULES["blacklisted"] not in [rule for rule, _ in enabled_rules(config.rules)]
    assert len(enabled_rules(config.rules)) == len(RULES) - 1
