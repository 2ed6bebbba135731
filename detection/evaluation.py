"""Detection quality: precision, recall, F1, per rule and per fraud pattern, and card precision@k."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from detection.engine import Decision
from detection.models import Transaction


@dataclass(slots=True)
class Counts:
    fired: int = 0
    true_positive: int = 0

    def as_dict(self, total_frauds: int) -> dict[str, float | int]:
        return {
            "alerts": self.fired,
            "precision": _ratio(self.true_positive, self.fired),
            "recall": _ratio(self.true_positive, total_frauds),
        }


@dataclass
class Evaluation:
    """Fed one (transaction, decision) at a time, in event-time order."""

    precision_at_k: int = 100
    transactions: int = 0
    alerts: int = 0
    labelled: int = 0
    frauds: int = 0
    true_positive: int = 0
    false_positive: int = 0
    per_rule: defaultdict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    per_pattern: defaultdict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    # UTC day number -> customer -> (highest score that day, had a fraud that day)
    days: defaultdict[int, dict[str, tuple[int, bool]]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, transaction: Transaction, decision: Decision) -> None:
        self.transactions += 1
        self.alerts += decision.alert
        label = transaction.is_fraud
        if label is None:
            return
        self.labelled += 1
        self.frauds += label
        if decision.alert:
            if label:
                self.true_positive += 1
            else:
                self.false_positive += 1
        if decision.alert:
            for reason in decision.reasons:
                counts = self.per_rule[reason.code]
                counts.fired += 1
                counts.true_positive += label
        if label and transaction.fraud_pattern:
            pattern = self.per_pattern[transaction.fraud_pattern]
            pattern.fired += 1
            pattern.true_positive += decision.alert
        customers = self.days[int(decision.features.ts // 86_400)]
        best, had_fraud = customers.get(transaction.customer_id, (0, False))
        customers[transaction.customer_id] = (max(best, decision.score), had_fraud or label)

    def merge(self, other: Evaluation) -> None:
        """Add another shard's evaluation (shards hold disjoint customers)."""
        for name in ("transactions", "alerts", "labelled", "frauds", "true_positive", "false_positive"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.per_rule, other.per_rule), (self.per_pattern, other.per_pattern)):
            for key, counts in theirs.items():
                mine[key].fired += counts.fired
                mine[key].true_positive += counts.true_positive
        for day, customers in other.days.items():
            self.days[day].update(customers)

    def card_precision_at_k(self) -> float:
        """Per day: of the k customers with the highest score, the share with a fraud that day; mean over days."""
        shares = []
        for customers in self.days.values():
            # Ties broken by customer id, so the figure does not depend on arrival or shard order.
            ranked = sorted(customers.items(), key=lambda item: (-item[1][0], item[0]))[: self.precision_at_k]
            if ranked:
                shares.append(sum(had_fraud for _, (_, had_fraud) in ranked) / len(ranked))
        return round(sum(shares) / len(shares), 4) if shares else 0.0

    def report(self) -> dict[str, Any]:
        precision = _ratio(self.true_positive, self.true_positive + self.false_positive)
        recall = _ratio(self.true_positive, self.frauds)
        return {
            "transactions": self.transactions,
            "labelled": self.labelled,
            "frauds": self.frauds,
            "alerts": self.alerts,
            "true_positives": self.true_positive,
            "false_positives": self.false_positive,
            "precision": precision,
            "recall": recall,
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "alerts_per_1000": round(1000 * self.alerts / self.transactions, 2) if self.transactions else 0.0,
            f"card_precision_at_{self.precision_at_k}": self.card_precision_at_k(),
            "per_rule": {code: c.as_dict(self.frauds) for code, c in sorted(self.per_rule.items())},
            "recall_per_pattern": {
                pattern: _ratio(c.true_positive, c.fired) for pattern, c in sorted(self.per_pattern.items())
            },
        }


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0
