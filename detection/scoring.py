"""Anomaly score and the 0-100 risk score: the rules' noisy-OR, or the model's probability with the rules.

With a model, the model ranks: its probability maps onto 0-100 so that its alert threshold (picked
on held-out days for a target precision) lands on the rules file's alert threshold; a hard rule
(weight at or above ``learning.hard_rule_weight``, e.g. the blacklist) still alerts on its own.

Anomaly: a per-customer z-score combination (amount against the customer's own log-amount
mean/deviation, hourly velocity, distance from home). Chosen over half-space trees or
isolation forests because it needs no global model shared across partitions (each worker
holds only its customers), costs O(1) per event, is deterministic, and explains itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from detection.features import Features
from detection.model import FraudModel
from detection.models import Reason, Severity
from detection.rules_config import Anomaly, RulesConfig, SeverityBands

#: Hourly transactions that count as normal before the velocity term grows.
NORMAL_PER_HOUR = 3
#: Distance from home that counts as one standard deviation.
HOME_RADIUS_KM = 500.0


def anomaly_score(f: Features, params: Anomaly) -> float:
    """0 (usual for this customer) to 1 (far outside it)."""
    z_amount = max(0.0, f.amount_z)
    z_velocity = max(0, f.count_1h - NORMAL_PER_HOUR) / 2.0
    z_distance = (f.distance_from_home_km or 0.0) / HOME_RADIUS_KM
    combined = math.sqrt(z_amount * z_amount + z_velocity * z_velocity + z_distance * z_distance)
    return 1.0 - math.exp(-combined / params.scale)


def risk_score(reasons: list[Reason], anomaly: float, params: Anomaly) -> int:
    """Noisy-OR of the fired rules' weights and the weighted anomaly, as 0-100."""
    clean = 1.0 - params.weight * anomaly
    for reason in reasons:
        clean *= 1.0 - reason.weight
    return round(100 * (1.0 - clean))


def severity_of(score: int, bands: SeverityBands) -> Severity:
    if score >= bands.critical:
        return Severity.CRITICAL
    if score >= bands.high:
        return Severity.HIGH
    if score >= bands.medium:
        return Severity.MEDIUM
    return Severity.LOW


def model_risk(probability: float, threshold: float, alert_threshold: int) -> float:
    """0-100, monotone in the probability, equal to ``alert_threshold`` exactly at the model's threshold."""
    if probability < threshold:
        return min(alert_threshold * probability / threshold, alert_threshold - 1e-6)
    return alert_threshold + (100 - alert_threshold) * (probability - threshold) / max(1.0 - threshold, 1e-9)


def combined_risk(
    reasons: Sequence[Reason], rules_score: int, probability: float, threshold: float, config: RulesConfig
) -> float:
    risk = model_risk(probability, threshold, config.alert_threshold)
    if any(reason.weight >= config.learning.hard_rule_weight for reason in reasons):
        risk = max(risk, float(rules_score))
    return risk


#: What each model input means, in words for alert reasons.
FEATURE_WORDS: dict[str, str] = {
    "amount_eur": "amount (EUR)",
    "log_amount_ratio_30d": "log of amount over the customer's 30-day mean",
    "amount_z": "amount's deviation from the customer's habit (z)",
    "typical_spend_ratio": "amount over the profile's typical spend",
    "count_1m": "customer's transactions in 1 minute",
    "count_1h": "customer's transactions in 1 hour",
    "count_24h": "customer's transactions in 24 hours",
    "count_7d": "customer's transactions in 7 days",
    "count_30d": "customer's transactions in 30 days",
    "mean_amount_24h": "customer's mean amount over 24 hours",
    "mean_amount_7d": "customer's mean amount over 7 days",
    "mean_amount_30d": "customer's mean amount over 30 days",
    "small_before": "tiny amounts just before (card testing)",
    "history": "customer's transactions seen before",
    "hour_of_day": "hour of day (UTC)",
    "weekend": "weekend",
    "night": "night (before 06:00 UTC)",
    "new_country": "first transaction in this country",
    "distance_from_home_km": "distance from home (km)",
    "travel_kmh": "speed from the previous transaction (km/h)",
    "new_device": "new device",
    "blacklisted": "customer blacklisted",
    "credit_score": "credit score",
    "customer_frauds": "customer's fraud reports and confirmed frauds",
    "customer_hours_since_newest_fraud": "hours since the customer's newest fraud report or confirmed fraud",
    "merchant_frauds": "confirmed frauds at this merchant (30 days)",
    "terminal_frauds": "confirmed frauds at this terminal (30 days)",
    "anomaly": "anomaly score",
    "rules_score": "rules' score",
}


def feature_words(name: str) -> str:
    """Words for a feature; the terminal/merchant window features are named by pattern."""
    if name in FEATURE_WORDS:
        return FEATURE_WORDS[name]
    kind, _, rest = name.partition("_")
    if rest.startswith("tx_"):
        return f"{kind}'s transactions over {rest[3:-1]} days before the label delay"
    if rest.startswith("fraud_share_"):
        return f"share of confirmed frauds at this {kind} over {rest[12:-1]} days before the label delay"
    return name.replace("_", " ")


def model_reason(model: FraudModel, vector: Sequence[float], probability: float, top: int = 3) -> Reason:
    """The MODEL reason: the probability and the features that raised it most, with their values."""
    contributions = model.contributions(vector, top)
    factors = "; ".join(f"{feature_words(c.name)} = {c.value:,.4g}" for c in contributions)
    values: dict[str, float | str] = {"probability": round(probability, 4), "threshold": round(model.threshold, 4)}
    values.update({c.name: round(c.value, 4) for c in contributions})
    return Reason(
        code="MODEL",
        description=f"Model {model.version}: fraud probability {probability:.2f} (alerts from {model.threshold:.2f})"
        + (f"; most telling: {factors}." if factors else "."),
        weight=round(probability, 4),
        values=values,
    )
