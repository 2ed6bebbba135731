"""Anomaly score and the 0-100 risk score.

Anomaly: a per-customer z-score combination (amount against the customer's own log-amount
mean/deviation, hourly velocity, distance from home). Chosen over half-space trees or
isolation forests because it needs no global model shared across partitions (each worker
holds only its customers), costs O(1) per event, is deterministic, and explains itself.
"""

from __future__ import annotations

import math

from detection.features import Features
from detection.models import Reason, Severity
from detection.rules_config import Anomaly, SeverityBands

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
