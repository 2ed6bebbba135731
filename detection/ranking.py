"""Threshold-free quality of a fraud score, as the field measures it.

AUC ROC, average precision and recall at a minimum precision follow scikit-learn's definitions
(tied scores form one threshold), so figures compare with published ones; a unit test checks them
against scikit-learn. Card Precision@k follows the Fraud Detection Handbook (Le Borgne et al.,
chapter 4, "Precision top-k metrics"): investigators check k cards a day, so per day each card
counts once with its highest score; cards already known to be compromised, and cards already
found in an earlier day's top k, leave the ranking; the figure is the mean over days of the
frauds found in the top k divided by k.

Threshold metrics (precision, recall, F1 at the alert threshold) are in detection/quality.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Scores = npt.ArrayLike
Labels = npt.ArrayLike
#: Day number of "never known" in a known-from-day table.
NEVER = np.iinfo(np.int64).max


def auc_roc(labels: Labels, scores: Scores) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    y, s = _as_arrays(labels, scores)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    sorted_scores = s[order]
    starts_group = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], len(s)]
    mean_rank = (starts + 1 + ends) / 2.0  # 1-based ranks starts+1 .. ends share their mean
    ranks = mean_rank[np.cumsum(starts_group) - 1]
    rank_sum = float(ranks[y[order]].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


@dataclass(frozen=True, slots=True)
class PrecisionRecallCurve:
    """Precision and recall at each distinct score, from the highest score down."""

    thresholds: npt.NDArray[np.float64]
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]


def precision_recall_curve(labels: Labels, scores: Scores) -> PrecisionRecallCurve:
    y, s = _as_arrays(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_group = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, dtype=bool)
    true_positives = np.cumsum(y)[last_of_group].astype(np.float64)
    flagged = (np.flatnonzero(last_of_group) + 1).astype(np.float64)
    positives = float(y.sum())
    recall = true_positives / positives if positives else np.zeros_like(true_positives)
    return PrecisionRecallCurve(s[last_of_group], true_positives / flagged, recall)


def average_precision(labels: Labels, scores: Scores) -> float | None:
    """Sum over thresholds of precision x recall gained (scikit-learn's definition); None without frauds."""
    curve = precision_recall_curve(labels, scores)
    if not len(curve.recall) or curve.recall[-1] == 0:
        return None
    return float(np.sum(np.diff(np.r_[0.0, curve.recall]) * curve.precision))


def recall_at_precision(labels: Labels, scores: Scores, min_precision: float) -> float:
    """The highest recall of any threshold whose precision is at least ``min_precision`` (0 if none)."""
    curve = precision_recall_curve(labels, scores)
    reaching = curve.precision >= min_precision
    return float(curve.recall[reaching].max()) if reaching.any() else 0.0


@dataclass(frozen=True, slots=True)
class CardPrecision:
    k: int
    mean: float
    per_day: list[float]
    #: Compromised cards still in the ranking each day (the most any ranking could find).
    compromised_per_day: list[int]
    #: Per day: (day, the cards still ranked, best first, whether each had a fraud that day).
    ranked_per_day: list[tuple[int, npt.NDArray[np.int64], npt.NDArray[np.bool_]]] = field(default_factory=list)


def card_precision_at_k(
    day: Sequence[int] | npt.NDArray[np.int64],
    card: Sequence[int] | npt.NDArray[np.int64],
    scores: Scores,
    labels: Labels,
    k: int = 100,
    known_from_day: npt.NDArray[np.int64] | None = None,
) -> CardPrecision:
    """Card Precision@k as the Handbook defines it.

    ``card`` holds small non-negative integer codes (ties in score are ranked by code, so the
    figure does not depend on input order); ``known_from_day[code]`` is the first day on which a
    card is known to be compromised (:data:`NEVER` if it is not), e.g. from feedback ``known_at``.
    """
    days = np.asarray(day, dtype=np.int64)
    cards = np.asarray(card, dtype=np.int64)
    y, s = _as_arrays(labels, scores)
    population = int(cards.max()) + 1 if len(cards) else 0
    known = known_from_day if known_from_day is not None else np.full(population, NEVER, dtype=np.int64)
    if len(known) < population:
        known = np.r_[known, np.full(population - len(known), NEVER, dtype=np.int64)]
    caught = np.zeros(population, dtype=bool)
    per_day: list[float] = []
    compromised: list[int] = []
    ranked_per_day: list[tuple[int, npt.NDArray[np.int64], npt.NDArray[np.bool_]]] = []
    order = np.argsort(days, kind="stable")
    days, cards, y, s = days[order], cards[order], y[order], s[order]
    boundaries = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True]) if len(days) else np.zeros(1, np.int64)
    for first, end in itertools.pairwise(boundaries):
        today = int(days[first])
        c, sc, lab = cards[first:end], s[first:end], y[first:end]
        ranked = ~caught[c] & (known[c] > today)
        c, sc, lab = c[ranked], sc[ranked], lab[ranked]
        day_cards, index = np.unique(c, return_inverse=True)  # sorted codes: the tie order
        best = np.full(len(day_cards), -np.inf)
        np.maximum.at(best, index, sc)
        fraud = np.zeros(len(day_cards), dtype=bool)
        np.logical_or.at(fraud, index, lab)
        ranking = np.argsort(-best, kind="stable")
        ranked_per_day.append((today, day_cards[ranking], fraud[ranking]))
        top = ranking[:k]
        found = day_cards[top][fraud[top]]
        caught[found] = True
        per_day.append(len(found) / k)
        compromised.append(int(fraud.sum()))
    mean = float(np.mean(per_day)) if per_day else 0.0
    return CardPrecision(k, mean, per_day, compromised, ranked_per_day)


def _as_arrays(labels: Labels, scores: Scores) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d and of one length, got {y.shape} and {s.shape}")
    return y, s
