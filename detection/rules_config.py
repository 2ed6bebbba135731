"""The typed shape of the rules file (config/rules.toml): thresholds, weights, on/off switches."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    weight: float = Field(ge=0, le=1, description="Contribution to the risk score when the rule fires (noisy-OR).")


class HighAmount(RuleParams):
    threshold_eur: float = Field(gt=0)


class Velocity(RuleParams):
    max_per_minute: int = Field(ge=1)
    max_per_hour: int = Field(ge=1)


class Blacklisted(RuleParams):
    pass


class HighRiskCustomer(RuleParams):
    min_credit_score: int = Field(ge=300, le=850, description="Scores below this are high risk.")
    report_lookback_days: int = Field(ge=1)
    min_reports: int = Field(ge=1)


class AmountDeviation(RuleParams):
    min_history: int = Field(ge=2, description="Transactions needed before the customer's own habit counts.")
    z_threshold: float = Field(gt=0, description="Standard deviations of log-amount above the customer's mean.")
    min_amount_eur: float = Field(ge=0, description="Small amounts never count as deviations.")
    typical_spend_ratio: float = Field(gt=1, description="Without history: multiple of the profile's typical spend.")


class UnusualLocation(RuleParams):
    min_history: int = Field(ge=1, description="Seen transactions before a new country counts as unusual.")
    far_from_home_km: float = Field(gt=0)


class ImpossibleTravel(RuleParams):
    max_speed_kmh: float = Field(gt=0)
    min_distance_km: float = Field(ge=0, description="Ignore jumps shorter than this (GPS noise, border towns).")


class RiskyMerchant(RuleParams):
    lookback_days: int = Field(ge=1)
    min_terminal_frauds: int = Field(ge=1, description="Confirmed frauds at this terminal in the lookback.")
    min_merchant_frauds: int = Field(ge=1, description="... or at any terminal of this merchant.")


class CardTesting(RuleParams):
    small_amount_eur: float = Field(gt=0)
    window_minutes: int = Field(ge=1)
    min_small_transactions: int = Field(ge=2, description="Small transactions before this one in the window.")
    large_amount_eur: float = Field(gt=0)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high_amount: HighAmount
    velocity: Velocity
    blacklisted: Blacklisted
    high_risk_customer: HighRiskCustomer
    amount_deviation: AmountDeviation
    unusual_location: UnusualLocation
    impossible_travel: ImpossibleTravel
    risky_merchant: RiskyMerchant
    card_testing: CardTesting


class SeverityBands(BaseModel):
    """Lowest score of each severity; below ``medium`` is low."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    medium: int = Field(ge=0, le=100)
    high: int = Field(ge=0, le=100)
    critical: int = Field(ge=0, le=100)


class Anomaly(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(ge=0, le=1, description="Contribution of a maximal anomaly score to the risk score.")
    scale: float = Field(gt=0, description="Combined z-score at which the anomaly score reaches 1 - 1/e.")
    min_sigma: float = Field(
        gt=0, description="Floor of the log-amount deviation, so steady spenders are not hair-trigger."
    )


class DecisionBands(BaseModel):
    """Lowest score of each decision the decision API answers; below ``review`` is allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review: int = Field(50, ge=0, le=100)
    block: int = Field(85, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionBands:
        if self.block < self.review:
            raise ValueError(f"decision.block ({self.block}) must not be below decision.review ({self.review})")
        return self


class Learning(BaseModel):
    """How the model is trained from feedback and how its probability combines with the rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_delay_days: int = Field(
        7,
        ge=0,
        le=14,
        description="Terminal/merchant fraud-share windows end this many days before the day scored until "
        "label_delay_min_frauds confirmed frauds have been seen; then the delay is learned from them.",
    )
    label_delay_quantile: float = Field(
        0.9, gt=0, le=1, description="The learned window end: days after which this share of frauds' days was complete."
    )
    label_delay_min_frauds: int = Field(
        20, ge=1, description="Confirmed frauds (with their payment's time) needed before the learned delay is used."
    )
    retrain_every_days: float = Field(1.0, gt=0, description="Event-time interval between retrainings.")
    label_delay_half_life_days: float = Field(
        14.0,
        ge=0,
        description="A confirmed fraud's weight in the learned delay halves every this many days of report time, so "
        "a change in how fast frauds are reported moves the window end (0: every fraud counts forever). "
        "Measured by bench.label_delay_decay (bench/RESULTS.md, session 6).",
    )
    activity_sync_hours: float = Field(
        1.0,
        gt=0,
        le=24,
        description="The backtest brings terminal/merchant activity and the label delay up to date this often in "
        "event time (live: continuously). Windows end at the hour: a day here costs AP (bench/RESULTS.md, session 6).",
    )
    train_days: int = Field(28, ge=1, description="Days of logged decisions a model is trained on.")
    train_min_frauds: int = Field(
        800,
        ge=0,
        description="Where fewer frauds known at the cut-off fall in train_days, the window grows a day at a time "
        "until it holds this many (0: never grows): where fraud is rare a month is too few frauds to learn from "
        "(bench/RESULTS.md, session 10).",
    )
    train_max_days: int = Field(56, ge=1, description="The longest the training window grows to.")
    min_frauds: int = Field(20, ge=1, description="Labelled frauds needed before a first model (cold start: rules).")
    operating_point: Literal["best_f1", "precision"] = Field(
        "best_f1",
        description="Where the model alerts, picked on held-out days at each retraining: the best F1 among "
        "thresholds with at least min_precision, or the lowest threshold reaching target_precision.",
    )
    min_precision: float = Field(0.5, ge=0, lt=1, description="The precision floor of the best_f1 operating point.")
    target_precision: float = Field(
        0.8, gt=0, lt=1, description="The precision operating point's target on held-out days."
    )
    hard_rule_weight: float = Field(
        0.9, ge=0, le=1, description="A rule of at least this weight alerts whatever the model says (blacklist)."
    )


class RulesConfig(BaseModel):
    """Everything that decides a score. Its digest is part of ``rules_version`` and so of every alert id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    alert_threshold: int = Field(ge=0, le=100, description="Scores at or above this publish an alert.")
    state_max_transactions: int = Field(ge=10, description="Recent transactions kept per customer.")
    state_window_hours: int = Field(ge=1, description="Recent transactions older than this are dropped.")
    severity: SeverityBands
    decision: DecisionBands = Field(default_factory=DecisionBands)
    anomaly: Anomaly
    fx_to_eur: dict[str, float]
    rules: Rules
    learning: Learning = Field(default_factory=Learning)

    @property
    def rules_version(self) -> str:
        """File version plus a digest of the effective values (so an environment override is a new version)."""
        digest = hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.version}+{digest}"
