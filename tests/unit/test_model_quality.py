from __future__ import annotations

import random

from detection.model_quality import SCORE_BINS, binned_average_precision, judged_counters, model_qualities, score_bin


def exact_average_precision(scored: list[tuple[float, bool]]) -> float:
    ranked = sorted(scored, key=lambda item: -item[0])
    frauds = sum(label for _, label in ranked)
    caught = 0
    total = 0.0
    for position, (_, label) in enumerate(ranked, 1):
        if label:
            caught += 1
            total += caught / position
    return total / frauds


def test_binned_average_precision_is_within_a_bin_of_the_exact_one() -> None:
    rng = random.Random(3)
    scored = [
        (min(0.999, max(0.0, rng.gauss(0.7 if fraud else 0.3, 0.2))), fraud) for fraud in [True] * 80 + [False] * 900
    ]
    frauds: dict[int, float] = {}
    legit: dict[int, float] = {}
    for probability, fraud in scored:
        target = frauds if fraud else legit
        target[score_bin(probability)] = target.get(score_bin(probability), 0) + 1
    assert abs(binned_average_precision(frauds, legit) - exact_average_precision(scored)) < 0.02
    assert binned_average_precision({}, legit) == 0.0


def test_counters_of_judged_decisions_read_back_as_precision_recall_and_ap_per_version() -> None:
    counters: dict[str, float] = {}
    judged = [("m1", 0.9, True, True), ("m1", 0.8, True, False), ("m1", 0.2, False, True), ("s.2", 0.95, True, True)]
    for version, probability, alerted, fraud in judged:
        for name in judged_counters(version, probability, alerted, fraud):
            counters[name.removeprefix("model.")] = counters.get(name.removeprefix("model."), 0) + 1
    quality = model_qualities(counters)
    assert set(quality) == {"m1", "s.2"}  # a dot in a version does not confuse the parse
    m1 = quality["m1"]
    assert (m1.quality.precision, m1.quality.recall, m1.judged) == (0.5, 0.5, 3)
    assert m1.average_precision == (1 / 1 * 1 + 2 / 3 * 1) / 2  # ranks: 0.9 fraud, 0.8 legit, 0.2 fraud
    assert quality["s.2"].average_precision == 1.0
    assert score_bin(1.0) == SCORE_BINS - 1 and score_bin(-0.1) == 0
