"""Detection quality: precision, recall, F1, per rule and per fraud pattern, and card precision@k.

Besides the counts at the alert threshold, every labelled transaction's score is kept (compact
columns) for the threshold-free figures of detection/ranking.py: AUC ROC, average precision,
recall at a minimum precision and the Handbook's Card Precision@k.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection.engine import Decision
from detection.models import Feedback, Transaction
from detection.quality import f1_score
from detection.ranking import NEVER, auc_roc, average_precision, card_precision_at_k, recall_at_precision

SECONDS_PER_DAY = 86_400


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
class ScoreColumns:
    """One row per labelled transaction: UTC day, card (customer) code, score, label, pattern code."""

    days: array[int] = field(default_factory=lambda: array("q"))
    cards: array[int] = field(default_factory=lambda: array("q"))
    scores: array[float] = field(default_factory=lambda: array("d"))
    labels: array[int] = field(default_factory=lambda: array("b"))
    patterns: array[int] = field(default_factory=lambda: array("h"))  # -1: none
    card_codes: dict[str, int] = field(default_factory=dict)
    pattern_codes: dict[str, int] = field(default_factory=dict)

    def append(self, ts: float, card: str, score: float, label: bool, pattern: str | None) -> None:
        self.days.append(int(ts // SECONDS_PER_DAY))
        self.cards.append(self.card_codes.setdefault(card, len(self.card_codes)))
        self.scores.append(score)
        self.labels.append(label)
        self.patterns.append(-1 if pattern is None else self.pattern_codes.setdefault(pattern, len(self.pattern_codes)))

    def extend(self, other: ScoreColumns) -> None:
        """Append another shard's rows, translating its codes into ours."""
        card_map = np.array([self.card_codes.setdefault(c, len(self.card_codes)) for c in other.card_codes], np.int64)
        pattern_map = np.array(
            [self.pattern_codes.setdefault(p, len(self.pattern_codes)) for p in other.pattern_codes] + [-1], np.int64
        )
        self.days.extend(other.days)
        self.cards.extend(array("q", card_map[np.asarray(other.cards, np.int64)].tolist()) if len(other.cards) else [])
        self.scores.extend(other.scores)
        self.labels.extend(other.labels)
        self.patterns.extend(array("h", pattern_map[np.asarray(other.patterns, np.int64)].tolist()))

    def cards_by_id(self) -> tuple[np.ndarray[Any, np.dtype[np.int64]], dict[str, int]]:
        """Card codes renumbered in customer-id order, so ties rank alike however shards were merged."""
        ordered = {card: code for code, card in enumerate(sorted(self.card_codes))}
        renumber = np.empty(len(self.card_codes), dtype=np.int64)
        for card, code in self.card_codes.items():
            renumber[code] = ordered[card]
        return renumber[np.asarray(self.cards, dtype=np.int64)], ordered


@dataclass
class Evaluation:
    """Fed one (transaction, decision) at a time, in event-time order.

    Only transactions whose time is in [period_start, period_end) (Unix seconds; None: open)
    count: earlier ones still build state, but the report covers the test period alone.
    """

    precision_at_k: int = 100
    period_start: float | None = None
    period_end: float | None = None
    min_precision: float = 0.85
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
    columns: ScoreColumns = field(default_factory=ScoreColumns)

    def covers(self, ts: float) -> bool:
        return (self.period_start is None or ts >= self.period_start) and (
            self.period_end is None or ts < self.period_end
        )

    def add(self, transaction: Transaction, decision: Decision) -> None:
        if not self.covers(decision.features.ts):
            return
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
        # The unrounded risk ranks: the 0-100 score ties many transactions the risk tells apart.
        self.columns.append(
            decision.features.ts, transaction.customer_id, decision.risk, label, transaction.fraud_pattern
        )
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
        self.columns.extend(other.columns)

    def card_precision_at_k(self) -> float:
        """Per day: of the k customers with the highest score, the share with a fraud that day; mean over days."""
        shares = []
        for customers in self.days.values():
            # Ties broken by customer id, so the figure does not depend on arrival or shard order.
            ranked = sorted(customers.items(), key=lambda item: (-item[1][0], item[0]))[: self.precision_at_k]
            if ranked:
                shares.append(sum(had_fraud for _, (_, had_fraud) in ranked) / len(ranked))
        return round(sum(shares) / len(shares), 4) if shares else 0.0

    def ranking_report(self, feedback: Iterable[Feedback] = ()) -> dict[str, Any]:
        """Threshold-free figures over the covered period; ``feedback`` says which cards were known compromised."""
        columns = self.columns
        labels = np.asarray(columns.labels, dtype=bool)
        scores = np.asarray(columns.scores, dtype=np.float64)
        cards, codes = columns.cards_by_id()
        known = np.full(len(codes), NEVER, dtype=np.int64)
        for outcome in feedback:
            code = codes.get(outcome.customer_id)
            if outcome.is_fraud and code is not None:
                # Known before day d starts (or exactly at its start) = known from day ceil(t / 1 day).
                known[code] = min(known[code], math.ceil(outcome.known_at.timestamp() / SECONDS_PER_DAY))
        top_k = card_precision_at_k(columns.days, cards, scores, labels, self.precision_at_k, known)
        patterns = np.asarray(columns.patterns, dtype=np.int64)
        per_pattern = {}
        for pattern, code in sorted(columns.pattern_codes.items()):
            rows = (patterns == code) & labels | ~labels  # this pattern's frauds against every genuine payment
            frauds = int(((patterns == code) & labels).sum())
            per_pattern[pattern] = {
                "frauds": frauds,
                "recall": _ratio(self.per_pattern[pattern].true_positive if pattern in self.per_pattern else 0, frauds),
                "auc_roc": _rounded(auc_roc(labels[rows], scores[rows])),
                "average_precision": _rounded(average_precision(labels[rows], scores[rows])),
            }
        return {
            "test_period": {
                "start": self.period_start,
                "end": self.period_end,
                "days": len(top_k.per_day),
            },
            "auc_roc": _rounded(auc_roc(labels, scores)),
            "average_precision": _rounded(average_precision(labels, scores)),
            f"recall_at_precision_{self.min_precision:g}": _rounded(
                recall_at_precision(labels, scores, self.min_precision)
            ),
            f"handbook_card_precision_at_{self.precision_at_k}": round(top_k.mean, 4),
            f"handbook_card_precision_at_{self.precision_at_k}_per_day": [round(v, 4) for v in top_k.per_day],
            "per_pattern": per_pattern,
        }

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
            "f1": round(f1_score(precision, recall), 4),  # of the rounded figures, as reported
            "alerts_per_1000": round(1000 * self.alerts / self.transactions, 2) if self.transactions else 0.0,
            f"card_precision_at_{self.precision_at_k}": self.card_precision_at_k(),
            "per_rule": {code: c.as_dict(self.frauds) for code, c in sorted(self.per_rule.items())},
            "recall_per_pattern": {
                pattern: _ratio(c.true_positive, c.fired) for pattern, c in sorted(self.per_pattern.items())
            },
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0
