"""What the learning loop adds to each transaction on the live path, beside what scoring already costs.

Per transaction, in one process, on the same generated transactions: the detector's own work
(features, rules, the champion model), then what the loop adds in the detect agent: the shadow
model's verdict, and the decision record (its JSON for the decisions topic and table, as agents.detect logs it). The
produce itself and the decisions-log agent's consumption are broker costs, measured with the worker
in bench/RESULTS.md.

    .venv/bin/python -m bench.decision_log_cost [--count 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from config.rules import load_rules
from detection.decisions import decision_entry
from detection.engine import Decision, Detector
from detection.features import FEATURE_NAMES, FEATURE_VERSION
from detection.model import ModelArtifact, encode_payload, load_model
from detection.models import Transaction
from detection.shadow import shadow_verdict
from detection.state import CustomerState
from producers.generate import write_files


def linear_model(version: str) -> ModelArtifact:
    """A logistic model over every feature: the shadow's cost does not depend on its weights."""
    width = len(FEATURE_NAMES)
    document = {
        "kind": "linear",
        "intercept": -4.0,
        "weights": [0.01] * width,
        "mean": [0.0] * width,
        "scale": [1.0] * width,
    }
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return ModelArtifact(
        version=version,
        created_at=at,
        trained_until=at,
        library="bench",
        feature_names=list(FEATURE_NAMES),
        feature_version=FEATURE_VERSION,
        payload=encode_payload(document),
    )


def per_transaction_us(step: Callable[[], object], count: int, repeats: int = 5) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        runs.append((time.perf_counter() - started) * 1e6 / count)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_files(
            Path(directory),
            count=args.count,
            rate=None,
            seed=42,
            customers=2000,
            merchants=200,
            fraud_rate=0.01,
            start=datetime(2026, 1, 1, tzinfo=UTC),
        )
        transactions = [
            Transaction.model_validate_json(line) for line in (Path(directory) / "transactions.jsonl").open()
        ]
    config = load_rules(None, {})
    detector = Detector(config).with_model(load_model(linear_model("champion")))
    shadow = load_model(linear_model("shadow"))
    decisions: list[Decision] = []

    def score() -> None:
        decisions.clear()
        states: dict[str, CustomerState] = {}
        for transaction in transactions:
            state = states.setdefault(transaction.customer_id, CustomerState())
            decision = detector.evaluate(transaction, state)
            detector.learn(state, transaction, decision)
            decisions.append(decision)

    def judge_in_shadow() -> None:
        for decision in decisions:
            shadow_verdict(decision, shadow, config)

    def log() -> None:
        for transaction, decision in zip(transactions, decisions, strict=True):
            decision_entry(transaction, decision, detector.rules_version)  # as the detect agent logs it

    scoring = per_transaction_us(score, len(transactions))
    shadowing = per_transaction_us(judge_in_shadow, len(transactions))
    logging = per_transaction_us(log, len(transactions))
    print(f"transactions                              {len(transactions)}")
    print(f"detector (features, rules, champion) us   {scoring:8.1f}   (the ceiling's own cost)")
    print(
        f"+ shadow model verdict us                 {shadowing:8.1f}   ({100 * shadowing / scoring:.0f} % of scoring)"
    )
    print(f"+ decision record, topic + table us      {logging:8.1f}   ({100 * logging / scoring:.0f} % of scoring)")


if __name__ == "__main__":
    main()
