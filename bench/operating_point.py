"""Own generator: F1 by the model's operating point and by how rules and model combine.

    .venv/bin/python -m bench.operating_point [--count 100000] [--customers 2500] [--merchants 250]

The generator's labelled output (seed 42, as bench.backtest_throughput), the learning backtest run
once (one process) keeping its learner; then, per variant, the daily models are retrained from its
decisions log (bench.model_capacity.daily_models) and every transaction is judged as the backtest
would: before the first model the rules alone; then the model's alert, plus either only a hard rule
(the blacklist, the default combination) or every rules alert (``hard_rule_weight = 0``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.backtest_throughput import backtest_generated, write_generated
from bench.model_capacity import LONGEST_TRAIN_DAYS, Candidate, daily_models, logged
from detection.features import FEATURE_NAMES
from detection.learning import LearningLog
from detection.quality import Quality
from detection.rules_config import Learning
from detection.training import TrainingParams

DAY_S = 86_400.0
SESSION_2 = replace(TrainingParams(), trees=60, leaves=15, depth=4, learning_rate=0.15)
VARIANTS = [
    Candidate("60 trees depth 4, precision 0.8 (session 2)", replace(SESSION_2, operating_point="precision")),
    Candidate("60 trees depth 4, best F1 at precision >= 0.5", SESSION_2),
    Candidate("200 trees 15 leaves, precision 0.8", replace(TrainingParams(), operating_point="precision")),
    Candidate("200 trees 15 leaves, best F1 at precision >= 0.5 (defaults)", TrainingParams()),
    Candidate("200 trees 15 leaves, best F1, no floor", replace(TrainingParams(), min_precision=0.0)),
    Candidate("200 trees 15 leaves, best F1, retrained every 2 days", TrainingParams(), retrain_every_days=2),
    Candidate("200 trees 15 leaves, best F1, retrained every 3 days", TrainingParams(), retrain_every_days=3),
]


def quality(alerts: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]) -> Quality:
    return Quality(
        true_positives=int((alerts & labels).sum()),
        false_positives=int((alerts & ~labels).sum()),
        false_negatives=int((~alerts & labels).sum()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2500)
    parser.add_argument("--merchants", type=int, default=250)
    args = parser.parse_args()
    learner = LearningLog.of(Learning(train_days=LONGEST_TRAIN_DAYS))
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        reference = write_generated(data, args.count, args.customers, args.merchants)
        backtest_generated(data, reference, learner=learner)
        with (data / "transactions.jsonl").open() as lines:
            fraud = {r["transaction_id"]: bool(r.get("is_fraud")) for r in map(json.loads, lines)}
    ids, times, vectors = logged(learner)
    labels = np.array([fraud[t] for t in ids])
    rules_alert = vectors[:, FEATURE_NAMES.index("rules_score")] >= 0.5
    hard = vectors[:, FEATURE_NAMES.index("blacklisted")] > 0  # the one rule at or above hard_rule_weight
    day_of = (times // DAY_S).astype(np.int64)
    days = np.arange(day_of.min() + 1, day_of.max() + 1)
    print(f"{len(ids):,} transactions, {int(labels.sum())} frauds; {len(days)} retrainings\n")
    print("| variant | model + hard rules: precision / recall / F1 | model + every rules alert |")
    print("|---|---:|---:|")
    q = quality(rules_alert, labels)
    print(f"| rules alone | {q.precision:.3f} / {q.recall:.3f} / {q.f1:.3f} | |")
    for variant in VARIANTS:
        model_alert = np.zeros(len(ids), dtype=bool)
        scored = np.zeros(len(ids), dtype=bool)
        for day, model in zip(days, daily_models(learner, variant, days * DAY_S), strict=True):
            today = day_of == day
            if model is not None and today.any():
                model_alert[today] = np.asarray(model.score_many(vectors[today])) >= model.threshold
                scored |= today
        combined = np.where(scored, model_alert | hard, rules_alert)
        union = np.where(scored, model_alert | rules_alert, rules_alert)
        a, b = quality(combined, labels), quality(union, labels)
        print(
            f"| {variant.name} | {a.precision:.3f} / {a.recall:.3f} / {a.f1:.3f} | "
            f"{b.precision:.3f} / {b.recall:.3f} / {b.f1:.3f} |"
        )


if __name__ == "__main__":
    main()
