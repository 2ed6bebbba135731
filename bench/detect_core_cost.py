"""CPU per transaction of the detection core alone, without Faust, broker or learning, in one process.

    .venv/bin/python -m bench.detect_core_cost DATA_DIR [--count 20000] [--repeats 5]

``DATA_DIR`` holds ``transactions.jsonl`` (``fraudwatch generate --output-dir``). Two loops over the
first ``count`` transactions in event-time order, rules only, each timed ``repeats`` times:

- ``live``: as the detect agent does per event: the customer's state decoded from its stored JSON,
  ``Detector.evaluate``, ``Detector.learn``, the state encoded again;
- ``backtest``: ``Backtest.run`` without learning (states kept as objects, feedback at its ``known_at``).

Prints CPU µs per transaction (sorted repeats) as one JSON line per loop. For an A/B, run it from
each checkout (copy this file into the other), alternating.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from config.rules import load_rules
from detection.backtest import Backtest
from detection.engine import Detector
from detection.models import Feedback, Transaction
from detection.state import CustomerState


def live(transactions: list[Transaction], _: list[Feedback]) -> None:
    detector = Detector(load_rules(None))
    store: dict[str, bytes] = {}
    for transaction in transactions:
        raw = store.get(transaction.customer_id)
        state = CustomerState.from_json(raw) if raw else CustomerState()
        decision = detector.evaluate(transaction, state)
        detector.learn(state, transaction, decision)
        store[transaction.customer_id] = state.to_json()


def backtest(transactions: list[Transaction], feedback: list[Feedback]) -> None:
    Backtest(Detector(load_rules(None))).run(transactions, feedback, lambda _t, _d: None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lines = (args.data / "transactions.jsonl").read_bytes().splitlines()[: args.count]
    transactions = sorted((Transaction.model_validate_json(line) for line in lines), key=lambda t: t.timestamp)
    feedback_file = args.data / "feedback.jsonl"
    feedback = (
        [Feedback.model_validate_json(line) for line in feedback_file.read_bytes().splitlines()]
        if feedback_file.exists()
        else []
    )
    gc.freeze()
    gc.disable()  # as the backtest's shards run
    loops: dict[str, Callable[[list[Transaction], list[Feedback]], None]] = {"live": live, "backtest": backtest}
    for name, loop in loops.items():
        costs = []
        for _ in range(args.repeats):
            started = time.process_time()
            loop(transactions, feedback)
            costs.append(1e6 * (time.process_time() - started) / len(transactions))
        print(
            json.dumps(
                {
                    "checkout": Path.cwd().name,
                    "loop": name,
                    "cpu_us_per_tx": sorted(round(cost, 1) for cost in costs),
                    "load": round(os.getloadavg()[0], 1),
                }
            )
        )


if __name__ == "__main__":
    main()
