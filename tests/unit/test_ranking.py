from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from detection.ranking import NEVER, auc_roc, average_precision, card_precision_at_k, recall_at_precision


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("distinct_scores", [5, 101, 10_000])
def test_auc_and_average_precision_match_scikit_learn(seed: int, distinct_scores: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random(5000) < 0.05
    # Integer scores like the 0-100 risk score: many ties, which both definitions must handle alike.
    scores = np.clip(rng.normal(labels * 1.5, 1.0) * distinct_scores / 6 + distinct_scores / 2, 0, distinct_scores)
    scores = np.round(scores)
    assert auc_roc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_recall_at_precision_is_the_best_recall_reaching_that_precision() -> None:
    rng = np.random.default_rng(3)
    labels = rng.random(3000) < 0.1
    scores = rng.normal(labels * 2.0, 1.0)
    precision, recall, _ = precision_recall_curve(labels, scores)
    expected = recall[precision >= 0.85].max()
    assert recall_at_precision(labels, scores, 0.85) == pytest.approx(expected)
    assert recall_at_precision([True, False], [0.1, 0.9], 0.85) == 0.0  # no threshold reaches it


def test_one_class_has_no_auc_and_no_frauds_no_average_precision() -> None:
    assert auc_roc([False, False], [0.1, 0.2]) is None
    assert average_precision([False, False], [0.1, 0.2]) is None
    with pytest.raises(ValueError, match="one length"):
        auc_roc([True], [0.1, 0.2])


def test_card_precision_ranks_cards_by_their_best_score_and_drops_known_and_caught_cards() -> None:
    # day, card, score, fraud
    rows = [
        (0, 0, 0.9, 1),  # card 0: caught on day 0
        (0, 0, 0.1, 0),
        (0, 1, 0.2, 0),
        (0, 1, 0.8, 0),  # card 1: its best score 0.8 ranks it second, not a fraud
        (0, 2, 0.7, 1),  # card 2: third, outside the top 2
        (1, 0, 0.99, 1),  # card 0 was caught on day 0: leaves the ranking
        (1, 2, 0.6, 1),  # card 2: a fraud in day 1's top 2
        (1, 3, 0.95, 1),  # card 3: known compromised from day 1 on: leaves the ranking
        (1, 4, 0.5, 0),
    ]
    day, card, score, fraud = (np.array(column) for column in zip(*rows, strict=True))
    known = np.array([NEVER, NEVER, NEVER, 1, NEVER])
    result = card_precision_at_k(day, card, score, fraud, k=2, known_from_day=known)
    assert result.per_day == [0.5, 0.5]
    assert result.mean == 0.5
    assert result.compromised_per_day == [2, 1]
    assert [(d, cards.tolist(), frauds.tolist()) for d, cards, frauds in result.ranked_per_day] == [
        (0, [0, 1, 2], [True, False, True]),
        (1, [2, 4], [True, False]),
    ]
    # Without the removals card 0 (and card 3) would count again on day 1.
    assert card_precision_at_k(day, card, score, fraud, k=2).per_day == [0.5, 1.0]


def test_card_precision_ties_are_broken_by_card_so_input_order_does_not_matter() -> None:
    day = np.zeros(4, dtype=np.int64)
    card = np.array([3, 2, 1, 0])
    fraud = np.array([0, 0, 1, 0])
    first = card_precision_at_k(day, card, np.full(4, 50.0), fraud, k=2)
    again = card_precision_at_k(day[::-1], card[::-1], np.full(4, 50.0), fraud[::-1], k=2)
    assert first.per_day == again.per_day == [0.5]  # cards 0 and 1 are ranked first
