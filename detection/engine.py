"""The detector: features -> rules (+ model) -> score for one transaction, and the state update after it.

The live agent and `fraudwatch backtest` both call exactly this. ``evaluate`` computes the features,
the rules and the vector a model scores, then ``finish`` combines the model's probability into the
score; the backtest asks it to leave ``finish`` out (``defer_model``) so it can score a batch with one
model call (``finish_many``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detection.activity import EntityActivity
from detection.features import FeatureParams, Features, extract_features
from detection.label_delay import LabelDelay
from detection.model import FraudModel
from detection.models import Reason, Severity, Transaction
from detection.reference import CustomerReference, MerchantRisk
from detection.rules import enabled_rules
from detection.rules_config import RulesConfig
from detection.scoring import anomaly_score, combined_risk, model_reason, risk_score, severity_of
from detection.state import CustomerState, Seen


@dataclass(slots=True)
class Decision:
    score: int
    severity: Severity
    reasons: list[Reason]
    anomaly: float
    features: Features
    alert: bool
    #: The model's inputs as scored (aligned with FEATURE_NAMES): what the decisions log keeps for training.
    feature_vector: list[float] = field(default_factory=list)
    model_version: str | None = None
    model_probability: float | None = None
    #: The unrounded 0-100 risk that ``score`` rounds: a ranking without ties between close scores.
    risk: float = 0.0

    @property
    def duplicate(self) -> bool:
        return self.features.duplicate


class Detector:
    def __init__(self, config: RulesConfig, model: FraudModel | None = None) -> None:
        self.config = config
        self.model = model
        self.rules = enabled_rules(config.rules)
        self.rules_version = config.rules_version
        self._window_s = config.state_window_hours * 3600.0
        self._feature_params = FeatureParams.of(config)

    def with_model(self, model: FraudModel | None) -> Detector:
        """A detector with the same rules and ``model`` (None: rules only); swap it in with one assignment."""
        detector = Detector.__new__(Detector)
        detector.config, detector.rules, detector.rules_version = self.config, self.rules, self.rules_version
        detector._window_s, detector._feature_params = self._window_s, self._feature_params
        detector.model = model
        return detector

    def evaluate(
        self,
        transaction: Transaction,
        state: CustomerState,
        reference: CustomerReference | None = None,
        merchant: MerchantRisk | None = None,
        terminal: MerchantRisk | None = None,
        terminal_activity: EntityActivity | None = None,
        merchant_activity: EntityActivity | None = None,
        *,
        label_delay: LabelDelay | None = None,
        defer_model: bool = False,
    ) -> Decision:
        """Features, rules and the rules' score, then the model's part (``finish``) unless ``defer_model``.

        ``label_delay``: the delay learned from feedback so far (None: the rules file's prior).
        """
        params = self._feature_params
        delay = label_delay.window_end(self.config.learning) if label_delay is not None else None
        features = extract_features(
            transaction, state, reference, merchant, terminal, params, terminal_activity, merchant_activity, delay
        )
        reasons = [reason for rule, params in self.rules if (reason := rule(features, params)) is not None]
        anomaly = anomaly_score(features, self.config.anomaly)
        score = risk_score(reasons, anomaly, self.config.anomaly)
        features.anomaly = anomaly
        features.rules_score = score / 100
        decision = Decision(
            score=score,
            severity=severity_of(score, self.config.severity),
            reasons=reasons,
            anomaly=anomaly,
            features=features,
            alert=score >= self.config.alert_threshold,
            feature_vector=features.vector(),
            risk=float(score),
        )
        if self.model is not None and not defer_model:
            self.finish(decision, self.model.score(decision.feature_vector))
        return decision

    def finish(self, decision: Decision, probability: float) -> None:
        """Combine the model's probability with the rules: the model ranks, hard rules still alert."""
        model = self.model
        assert model is not None, "finish() needs a model"
        risk = combined_risk(decision.reasons, decision.score, probability, model.threshold, self.config)
        decision.risk = risk
        decision.score = min(100, int(risk))  # floor: a score at the threshold means the risk reached it
        decision.severity = severity_of(decision.score, self.config.severity)
        decision.alert = decision.score >= self.config.alert_threshold
        decision.model_version = model.version
        decision.model_probability = probability
        if decision.alert and probability >= model.threshold:
            decision.reasons.append(model_reason(model, decision.feature_vector, probability))

    def finish_many(self, decisions: Sequence[Decision]) -> None:
        """``finish`` a batch with one model call (the backtest's way; same result as one by one)."""
        if self.model is None or not decisions:
            return
        for decision, probability in zip(
            decisions, self.model.score_many([d.feature_vector for d in decisions]), strict=True
        ):
            self.finish(decision, probability)

    def learn(self, state: CustomerState, transaction: Transaction, decision: Decision) -> bool:
        """Add the transaction to the customer's state; False (and no change) for a replayed one."""
        if decision.duplicate:
            return False
        f = decision.features
        seen = Seen(
            f.ts,
            transaction.transaction_id,
            round(f.amount_eur, 2),
            transaction.merchant_id,
            transaction.terminal_id,
            transaction.country,
            transaction.latitude,
            transaction.longitude,
            decision.score,
        )
        state.record(seen, transaction.device_id, self.config.state_max_transactions, self._window_s)
        return True
