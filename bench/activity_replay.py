"""The terminal/merchant activity's own CPU in a learning backtest: its calls recorded, then replayed on two classes.

A one-worker learning backtest of ``bench.backtest_throughput``'s data (the generator, seed 42) records every
``EntityActivity`` call it makes (payments and frauds counted, risk features read), in order. The calls are
then replayed, alternating, on this checkout's class and on ``--against``'s (another checkout's
``detection/activity.py``, e.g. main's from ``git archive``): CPU seconds of each replay, their median and
ratio, and whether both gave every risk feature and every entity's final ``to_json`` alike. Unlike the
backtest's stage sampler (wall time, shared with the fitting thread) this counts only the activity's CPU.

    .venv/bin/python -m bench.activity_replay --against DIR [--count 100000] [--customers 2500] [--merchants 250]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.backtest_throughput import backtest_generated, write_generated
from detection import activity

#: (kind: 0 a payment, 1 a fraud, 2 a read; entity number; time; count, transaction id or delay hours)
Call = tuple[int, int, float, Any]


def record(count: int, customers: int, merchants: int) -> list[Call]:
    """Every EntityActivity call of a one-worker learning backtest, in order."""
    calls: list[Call] = []
    numbers: dict[int, int] = {}
    kept: list[object] = []  # an entity's id stays its own while it is kept

    def number(entity: object) -> int:
        if id(entity) not in numbers:
            numbers[id(entity)] = len(numbers)
            kept.append(entity)
        return numbers[id(entity)]

    cls = activity.EntityActivity
    add_transaction, add_fraud, risk_features = cls.add_transaction, cls.add_fraud, cls.risk_features

    def counting_payments(self: activity.EntityActivity, ts: float, count: int = 1) -> None:
        calls.append((0, number(self), ts, count))
        add_transaction(self, ts, count)

    def counting_frauds(self: activity.EntityActivity, transaction_ts: float, transaction_id: str) -> bool:
        calls.append((1, number(self), transaction_ts, transaction_id))
        return add_fraud(self, transaction_ts, transaction_id)

    def reading(self: activity.EntityActivity, now: float, delay_hours: int) -> list[float]:
        calls.append((2, number(self), now, delay_hours))
        return risk_features(self, now, delay_hours)

    cls.add_transaction, cls.add_fraud, cls.risk_features = counting_payments, counting_frauds, reading  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            data = Path(scratch)
            reference = write_generated(data, count, customers, merchants)
            backtest_generated(data, reference, learn=True)
    finally:
        cls.add_transaction, cls.add_fraud, cls.risk_features = add_transaction, add_fraud, risk_features  # type: ignore[method-assign]
    return calls


def replay(cls: Any, calls: list[Call], reads: Any = None) -> tuple[float, dict[int, Any]]:
    """CPU seconds of the calls on fresh entities of ``cls``, and the entities; each risk feature read is fed to
    ``reads`` (a hashlib object) if given."""
    entities: dict[int, Any] = {}
    gc.collect()
    start = time.process_time()
    for kind, number, at, other in calls:
        entity = entities.get(number)
        if entity is None:
            entity = entities[number] = cls()
        if kind == 0:
            entity.add_transaction(at, other)
        elif kind == 1:
            entity.add_fraud(at, other)
        elif reads is None:
            entity.risk_features(at, other)
        else:
            reads.update(repr(entity.risk_features(at, other)).encode())
    return time.process_time() - start, entities


def answers(cls: Any, calls: list[Call]) -> tuple[str, str]:
    """Digests of every risk feature read and of every entity's final bytes."""
    reads, written = hashlib.sha256(), hashlib.sha256()
    _, entities = replay(cls, calls, reads)
    for number in sorted(entities):
        written.update(entities[number].to_json())
    return reads.hexdigest(), written.hexdigest()


def load_class(checkout: Path) -> Any:
    spec = importlib.util.spec_from_file_location("activity_against", checkout / "detection" / "activity.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no detection/activity.py in {checkout}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.EntityActivity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="another checkout (its detection/activity.py)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2500)
    parser.add_argument("--merchants", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    calls = record(args.count, args.customers, args.merchants)
    kinds = [sum(1 for call in calls if call[0] == kind) for kind in range(3)]
    days = (max(call[2] for call in calls) - min(call[2] for call in calls)) / 86_400
    entities = len({call[1] for call in calls})
    print(
        f"{len(calls):,} calls ({kinds[0]:,} payments counted, {kinds[1]:,} frauds, {kinds[2]:,} risk feature reads) "
        f"on {entities:,} entities over {days:.1f} days"
    )
    classes = {"this checkout": activity.EntityActivity, str(args.against): load_class(args.against)}
    same = len({answers(cls, calls) for cls in classes.values()}) == 1
    print(f"same risk features and final bytes: {same}")
    seconds: dict[str, list[float]] = {name: [] for name in classes}
    for round_ in range(args.rounds):
        for name, cls in classes.items():
            cpu, _ = replay(cls, calls)
            seconds[name].append(cpu)
            print(f"round {round_ + 1}, {name}: {cpu:.3f} s CPU", flush=True)
    mine, theirs = (statistics.median(values) for values in seconds.values())
    pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(*seconds.values(), strict=True))
    print(f"median {mine:.3f} s against {theirs:.3f} s: {mine / theirs:.2f}x (per round: {pairs})")


if __name__ == "__main__":
    main()
