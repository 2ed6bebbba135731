"""A model in shadow: scored beside the champion on the same features, judged, never alerting."""

from __future__ import annotations

from typing import NamedTuple

from detection.engine import Decision
from detection.model import FraudModel
from detection.rules_config import RulesConfig
from detection.scoring import combined_risk

#: The reason code the champion model adds; a shadow judges the rules' reasons without it.
MODEL_REASON = "MODEL"


class ShadowVerdict(NamedTuple):
    version: str
    probability: float
    alert: bool


def shadow_verdict(decision: Decision, shadow: FraudModel, config: RulesConfig) -> ShadowVerdict:
    """What ``shadow`` would have decided as champion: its probability, combined with the same rules."""
    probability = shadow.score(decision.feature_vector)
    reasons = [reason for reason in decision.reasons if reason.code != MODEL_REASON]
    rules_score = round(decision.features.rules_score * 100)
    risk = combined_risk(reasons, rules_score, probability, shadow.threshold, config)
    return ShadowVerdict(shadow.version, probability, min(100, int(risk)) >= config.alert_threshold)
