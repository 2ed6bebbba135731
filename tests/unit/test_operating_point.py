"""Where the model alerts: the operating point picked from held-out feedback."""

from __future__ import annotations

import numpy as np
import pytest

from detection.training import TrainingParams, pick_threshold

# Ranked best first. Cut i alerts on the first i+1; 4 frauds in all. Precision / recall / F1 per cut:
# 0: 1/.25/.40  1: 1/.50/.67  2: .67/.50/.57  3: .75/.75/.75  4: .60/.75/.67  5: .67/1/.80
# 6: .57/1/.73  7: .50/1/.67  8: .44/1/.62  9: .40/1/.57
SCORES = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
LABELS = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0, 0], dtype=bool)


@pytest.mark.parametrize(
    ("params", "threshold"),
    [
        (TrainingParams(operating_point="best_f1", min_precision=0.5), 0.5),  # F1 0.80 at precision 0.67
        (TrainingParams(operating_point="best_f1", min_precision=0.7), 0.7),  # the best F1 at precision >= 0.7
        (TrainingParams(operating_point="precision", target_precision=0.5), 0.3),  # the most alerts at 0.5
        (TrainingParams(operating_point="precision", target_precision=0.95), 0.9),
    ],
)
def test_operating_point_by_objective(params: TrainingParams, threshold: float) -> None:
    picked, metrics = pick_threshold(SCORES, LABELS, params)
    assert picked == threshold
    assert metrics["holdout_precision"] >= min(params.min_precision, params.target_precision)


def test_no_cut_reaching_the_precision_falls_back_to_the_best_f1() -> None:
    labels = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0], dtype=bool)  # best precision 0.5, best F1 at cut 3
    for params in (TrainingParams(operating_point="best_f1", min_precision=0.9), TrainingParams(target_precision=0.9)):
        picked, metrics = pick_threshold(SCORES, labels, params)
        assert picked == 0.7 and metrics["holdout_recall"] == 1.0


def test_tied_scores_are_never_split() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.1])
    labels = np.array([1, 1, 0, 0, 0], dtype=bool)  # cutting inside the tie would give F1 1.0
    picked, _ = pick_threshold(scores, labels, TrainingParams(operating_point="best_f1", min_precision=0.0))
    assert picked in (0.9, 0.8)
    assert picked == 0.9  # F1 0.67 at 0.9 against 0.67 at 0.8 (precision 0.5, recall 1): the first best
