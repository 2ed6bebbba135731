"""The final word on one transaction: the detector's decision after the lists, and the action.

The detect agent and the decision API both call ``judge``; docs/operations.md states the order
(block list > allow list > suppression > rules) that detection.lists implements.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from detection.activity import EntityActivity
from detection.decision_bands import Action, action_for
from detection.engine import Decision, Detector
from detection.label_delay import LabelDelay
from detection.lists import ListBook, ListEntry
from detection.models import Transaction
from detection.reference import CustomerReference, MerchantRisk
from detection.rules_config import RulesConfig
from detection.scoring import risk_score, severity_of
from detection.state import CustomerState

Listed = Literal["block_list", "allow_list", "suppressed"]


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What a transaction is judged against, read once: the active and a shadow rule set see the same."""

    state: CustomerState
    reference: CustomerReference | None = None
    merchant: MerchantRisk | None = None
    terminal: MerchantRisk | None = None
    terminal_activity: EntityActivity | None = None
    merchant_activity: EntityActivity | None = None
    label_delay: LabelDelay | None = None

    def evaluate(self, detector: Detector, transaction: Transaction) -> Decision:
        return detector.evaluate(
            transaction,
            self.state,
            self.reference,
            self.merchant,
            self.terminal,
            self.terminal_activity,
            self.merchant_activity,
            label_delay=self.label_delay,
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision  # after allow entries for single rules removed those rules' reasons
    action: Action
    listed: Listed | None  # which list decided, if one did
    matched: tuple[ListEntry, ...]  # entries in effect for this transaction

    @property
    def suppressed(self) -> bool:
        return self.listed == "suppressed"

    @property
    def publish(self) -> bool:
        """An alert goes out: the score reached the threshold and no list silenced it."""
        return self.decision.alert and not self.suppressed


def judge(transaction: Transaction, decision: Decision, book: ListBook, config: RulesConfig) -> Verdict:
    if decision.features.blacklisted:  # the block list wins over every allow or suppression
        return Verdict(decision, action_for(decision.score, config.decision), "block_list", ())
    entries = tuple(book.matching(transaction)) if len(book) else ()
    if not entries:
        return Verdict(decision, action_for(decision.score, config.decision), None, ())
    allows = [e for e in entries if e.list == "allow"]
    if any(e.rule is None for e in allows):
        return Verdict(replace(decision, alert=False), "allow", "allow_list", entries)
    allowed_rules = {e.rule for e in allows}
    if allowed_rules & {r.code for r in decision.reasons}:
        decision = _without(decision, allowed_rules, config)
    suppressed_rules = {e.rule for e in entries if e.list == "suppress"}
    muted = decision.alert and (
        None in suppressed_rules or (bool(decision.reasons) and {r.code for r in decision.reasons} <= suppressed_rules)
    )
    return Verdict(decision, action_for(decision.score, config.decision), "suppressed" if muted else None, entries)


def _without(decision: Decision, rules: set[str | None], config: RulesConfig) -> Decision:
    """The decision as if the allowed rules had not fired for this transaction. With a champion model
    its probability stands (only the reason goes): allow the entity wholly to overrule a model."""
    reasons = [r for r in decision.reasons if r.code not in rules]
    if decision.model_probability is not None:
        return replace(decision, reasons=reasons)
    score = risk_score(reasons, decision.anomaly, config.anomaly)
    return replace(
        decision,
        reasons=reasons,
        score=score,
        severity=severity_of(score, config.severity),
        alert=score >= config.alert_threshold,
    )
