"""The detector: features -> rules -> score for one transaction, and the state update after it.

The live agent and `fraudwatch backtest` both call exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass

from detection.features import FeatureParams, Features, extract_features
from detection.models import Reason, Severity, Transaction
from detection.reference import CustomerReference, MerchantRisk
from detection.rules import enabled_rules
from detection.rules_config import RulesConfig
from detection.scoring import anomaly_score, risk_score, severity_of
from detection.state import CustomerState, Seen


@dataclass(slots=True)
class Decision:
    score: int
    severity: Severity
    reasons: list[Reason]
    anomaly: float
    features: Features
    alert: bool

    @property
    def duplicate(self) -> bool:
        return self.features.duplicate


class Detector:
    def __init__(self, config: RulesConfig) -> None:
        self.config = config
        self.rules = enabled_rules(config.rules)
        self.rules_version = config.rules_version
        self._window_s = config.state_window_hours * 3600.0
        self._feature_params = FeatureParams.of(config)

    def evaluate(
        self,
        transaction: Transaction,
        state: CustomerState,
        reference: CustomerReference | None = None,
        merchant: MerchantRisk | None = None,
        terminal: MerchantRisk | None = None,
    ) -> Decision:
        features = extract_features(transaction, state, reference, merchant, terminal, self._feature_params)
        reasons = [reason for rule, params in self.rules if (reason := rule(features, params)) is not None]
        anomaly = anomaly_score(features, self.config.anomaly)
        score = risk_score(reasons, anomaly, self.config.anomaly)
        return Decision(
            score=score,
            severity=severity_of(score, self.config.severity),
            reasons=reasons,
            anomaly=anomaly,
            features=features,
            alert=score >= self.config.alert_threshold,
        )

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
