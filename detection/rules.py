"""The rules. Each looks at a transaction's features and returns a Reason (code, words, numbers) or None."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from detection.features import Features
from detection.models import Reason
from detection.rules_config import (
    AmountDeviation,
    Blacklisted,
    CardTesting,
    HighAmount,
    HighRiskCustomer,
    ImpossibleTravel,
    RiskyMerchant,
    RuleParams,
    Rules,
    UnusualLocation,
    Velocity,
)


class RuleCode(StrEnum):
    """Every rule's code, as reasons, alerts, metrics and the dashboard name it."""

    HIGH_AMOUNT = "HIGH_AMOUNT"
    VELOCITY = "VELOCITY"
    BLACKLISTED = "BLACKLISTED"
    HIGH_RISK_CUSTOMER = "HIGH_RISK_CUSTOMER"
    AMOUNT_DEVIATION = "AMOUNT_DEVIATION"
    UNUSUAL_LOCATION = "UNUSUAL_LOCATION"
    IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
    RISKY_MERCHANT = "RISKY_MERCHANT"
    CARD_TESTING = "CARD_TESTING"

    @property
    def setting(self) -> str:
        """The rule's table in the rules file (config/rules.toml), e.g. [rules.high_amount]."""
        return self.value.lower()


def high_amount(f: Features, p: HighAmount) -> Reason | None:
    if f.amount_eur < p.threshold_eur:
        return None
    return Reason(
        code=RuleCode.HIGH_AMOUNT,
        description=f"Amount {f.amount_eur:,.2f} EUR is at or above the {p.threshold_eur:,.0f} EUR limit.",
        weight=p.weight,
        values={"amount_eur": round(f.amount_eur, 2), "threshold_eur": p.threshold_eur},
    )


def velocity(f: Features, p: Velocity) -> Reason | None:
    if f.count_1m <= p.max_per_minute and f.count_1h <= p.max_per_hour:
        return None
    return Reason(
        code=RuleCode.VELOCITY,
        description=f"{f.count_1m} transactions in the last minute and {f.count_1h} in the last hour "
        f"(limits {p.max_per_minute}/min, {p.max_per_hour}/h).",
        weight=p.weight,
        values={
            "count_1m": f.count_1m,
            "count_1h": f.count_1h,
            "count_24h": f.count_24h,
            "max_per_minute": p.max_per_minute,
            "max_per_hour": p.max_per_hour,
        },
    )


def blacklisted(f: Features, p: Blacklisted) -> Reason | None:
    if not f.blacklisted:
        return None
    return Reason(
        code=RuleCode.BLACKLISTED, description="The customer is on the blacklist.", weight=p.weight, values={}
    )


def high_risk_customer(f: Features, p: HighRiskCustomer) -> Reason | None:
    low_score = f.credit_score is not None and f.credit_score < p.min_credit_score
    reported = f.recent_reports >= p.min_reports
    if not (low_score or reported):
        return None
    parts = []
    if low_score:
        parts.append(f"credit score {f.credit_score} is below {p.min_credit_score}")
    if reported:
        parts.append(f"{f.recent_reports} fraud report(s) or confirmed fraud(s) in {p.report_lookback_days} days")
    return Reason(
        code=RuleCode.HIGH_RISK_CUSTOMER,
        description="High-risk customer: " + " and ".join(parts) + ".",
        weight=p.weight,
        values={
            "credit_score": f.credit_score if f.credit_score is not None else "unknown",
            "recent_reports": f.recent_reports,
            "min_credit_score": p.min_credit_score,
        },
    )


def amount_deviation(f: Features, p: AmountDeviation) -> Reason | None:
    if f.amount_eur < p.min_amount_eur:
        return None
    if f.history >= p.min_history:
        if f.amount_z < p.z_threshold:
            return None
        description = (
            f"Amount {f.amount_eur:,.2f} EUR is {f.amount_z:.1f} standard deviations above this "
            f"customer's usual spending (limit {p.z_threshold})."
        )
    elif f.typical_spend_ratio is not None and f.typical_spend_ratio >= p.typical_spend_ratio:
        description = (
            f"Amount {f.amount_eur:,.2f} EUR is {f.typical_spend_ratio:.1f}x the customer's typical "
            f"spend (limit {p.typical_spend_ratio}x)."
        )
    else:
        return None
    return Reason(
        code=RuleCode.AMOUNT_DEVIATION,
        description=description,
        weight=p.weight,
        values={
            "amount_eur": round(f.amount_eur, 2),
            "z_score": round(f.amount_z, 2),
            "history": f.history,
            "typical_spend_ratio": round(f.typical_spend_ratio, 2) if f.typical_spend_ratio else "unknown",
        },
    )


def unusual_location(f: Features, p: UnusualLocation) -> Reason | None:
    new_country = f.new_country and f.history >= p.min_history
    far = f.distance_from_home_km is not None and f.distance_from_home_km >= p.far_from_home_km
    if not (new_country or far):
        return None
    parts = []
    if new_country:
        parts.append(f"first transaction in {f.country} (not the home country)")
    if far:
        parts.append(f"{f.distance_from_home_km:,.0f} km from home (limit {p.far_from_home_km:,.0f} km)")
    return Reason(
        code=RuleCode.UNUSUAL_LOCATION,
        description="Unusual location: " + " and ".join(parts) + ".",
        weight=p.weight,
        values={
            "country": f.country or "unknown",
            "new_country": str(new_country),
            "distance_from_home_km": round(f.distance_from_home_km, 1) if f.distance_from_home_km else "unknown",
        },
    )


def impossible_travel(f: Features, p: ImpossibleTravel) -> Reason | None:
    if f.travel_kmh is None or f.travel_km is None:
        return None
    if f.travel_km < p.min_distance_km or f.travel_kmh <= p.max_speed_kmh:
        return None
    return Reason(
        code=RuleCode.IMPOSSIBLE_TRAVEL,
        description=f"{f.travel_km:,.0f} km from the previous transaction at {f.travel_kmh:,.0f} km/h "
        f"(faster than {p.max_speed_kmh:,.0f} km/h).",
        weight=p.weight,
        values={
            "distance_km": round(f.travel_km, 1),
            "speed_kmh": round(f.travel_kmh, 1),
            "max_speed_kmh": p.max_speed_kmh,
        },
    )


def risky_merchant(f: Features, p: RiskyMerchant) -> Reason | None:
    if f.terminal_frauds < p.min_terminal_frauds and f.merchant_frauds < p.min_merchant_frauds:
        return None
    return Reason(
        code=RuleCode.RISKY_MERCHANT,
        description=f"{f.merchant_frauds} confirmed fraud(s) at this merchant and {f.terminal_frauds} at this "
        f"terminal in {p.lookback_days} days (limits {p.min_merchant_frauds} and {p.min_terminal_frauds}).",
        weight=p.weight,
        values={
            "merchant_frauds": f.merchant_frauds,
            "terminal_frauds": f.terminal_frauds,
            "lookback_days": p.lookback_days,
        },
    )


def card_testing(f: Features, p: CardTesting) -> Reason | None:
    if f.small_before < p.min_small_transactions:
        return None
    if f.amount_eur >= p.large_amount_eur:
        what = f"a {f.amount_eur:,.2f} EUR transaction after {f.small_before} tiny ones"
    elif f.amount_eur < p.small_amount_eur:
        what = f"{f.small_before + 1} tiny transactions in a row, a card being tested"
    else:
        return None
    return Reason(
        code=RuleCode.CARD_TESTING,
        description=f"Card-testing pattern: {what} (under {p.small_amount_eur} EUR) within {p.window_minutes} min.",
        weight=p.weight,
        values={
            "small_before": f.small_before,
            "amount_eur": round(f.amount_eur, 2),
            "window_minutes": p.window_minutes,
        },
    )


Rule = Callable[[Features, Any], Reason | None]

#: Every rule, by its name in the rules file.
RULES: dict[str, Rule] = {
    RuleCode.HIGH_AMOUNT.setting: high_amount,
    RuleCode.VELOCITY.setting: velocity,
    RuleCode.BLACKLISTED.setting: blacklisted,
    RuleCode.HIGH_RISK_CUSTOMER.setting: high_risk_customer,
    RuleCode.AMOUNT_DEVIATION.setting: amount_deviation,
    RuleCode.UNUSUAL_LOCATION.setting: unusual_location,
    RuleCode.IMPOSSIBLE_TRAVEL.setting: impossible_travel,
    RuleCode.RISKY_MERCHANT.setting: risky_merchant,
    RuleCode.CARD_TESTING.setting: card_testing,
}


def enabled_rules(rules: Rules) -> list[tuple[Rule, RuleParams]]:
    return [(RULES[name], params) for name, params in rules if params.enabled]
