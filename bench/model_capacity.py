"""Model capacity chosen by measurement on several parameter sets, not tuned to one.

    .venv/bin/python -m bench.model_capacity [--sets handbook handbook-variant-a ...] [--customers 2000]

For each parameter set: simulate it, run the Handbook baselines (bench/handbook.py), then the
real learning backtest once, keeping its learner. The features a model scores do not depend on
the model (terminal/merchant risk comes from feedback, the rules from the transaction), so every
candidate's models are then retrained from that learner's decisions log exactly as the backtest
does — at each test day's midnight, from the outcomes known then (``LearningLog.retrain``, which
drops any label known after the cut-off) — and score that day's rows. The candidate that is the
backtest's own settings reproduces the backtest's figures (printed as a check). Prints, per set,
the baselines and every candidate on the same test rows, then each candidate's margin over the
best baseline on AP, recall at precision 0.85 and CP@100 on every set, and its scoring cost.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.handbook import OUT, Row, baselines_with_scores, judge, print_table, read_decisions
from bench.handbook_features import Protocol, Split, train_test_split
from detection.learning import LearningLog
from detection.model import FraudModel, load_model
from detection.rules_config import Learning
from detection.training import TrainingParams
from producers.handbook import HandbookData, HandbookScenario, profile, simulate
from producers.handbook_files import transaction_id, write_handbook_files
from runtime.backtest import run_backtest

DAY_S = 86_400.0
#: A parameter set invented for this benchmark, designed by nobody for the detector: more fraud
#: (a larger share of compromised cards' payments, more terminals), mid-length compromises, small
#: amount multipliers, a 3-day label delay.
INVENTED = HandbookScenario(
    radius=6.0,
    mean_amount_range=(5.0, 80.0),
    payments_per_day_range=(0.5, 3.0),
    fraud_amount_limit=180.0,
    compromised_terminals_per_day=4,
    terminal_compromise_days=14,
    compromised_customers_per_day=5,
    customer_compromise_days=21,
    customer_fraud_share=0.25,
    customer_fraud_amount_multiplier=1.5,
    label_delay_days=3.0,
)
#: A second set nobody designed the detector for, drawn up (session 7) before any result on it: fewer
#: terminals in reach, dearer and steadier payments, no payment above the amount limit in practice
#: (the mix is terminals and cards only), many short card compromises with half the payments
#: fraudulent and amounts x2.5, short terminal compromises, a 2-day label delay.
INVENTED_B = HandbookScenario(
    radius=3.5,
    mean_amount_range=(20.0, 250.0),
    amount_std_share=0.3,
    payments_per_day_range=(0.2, 2.5),
    time_of_day_std_s=30_000.0,
    fraud_amount_limit=600.0,
    compromised_terminals_per_day=3,
    terminal_compromise_days=10,
    compromised_customers_per_day=8,
    customer_compromise_days=10,
    customer_fraud_share=0.5,
    customer_fraud_amount_multiplier=2.5,
    label_delay_days=2.0,
)
#: Session 10: sets that change the data's *structure*, not only its parameters, written down before
#: any result on them. Every set above has one label delay for every fraud, every fraud reported and a
#: fixed share of fraud per scenario; a detector may lean on that without anyone noticing.
#: The Handbook's design with each fraud's delay drawn from 1-20 days, skewed short (log-uniform:
#: median 4.5 days, 90 % within 14.8), every fraud reported.
SPREAD_DELAY = HandbookScenario(label_delay_days=1.0, label_delay_max_days=20.0)
#: The Handbook's design with its 7-day delay, but a quarter of the frauds never reported: they stay
#: frauds when judged, they just never become labels (or terminal risk).
UNREPORTED = HandbookScenario(reported_share=0.75)
#: Everything at once, on other activity: busier customers (1-5 payments a day), fraud about six times
#: rarer (~0.35 % at 2 000 customers against the Handbook's 2 %), dominated by compromised cards (~5 in 6
#: frauds; few two-day terminal compromises, no payment above the amount limit), delays 0.5-15 days
#: (log-uniform: median 2.7, 90 % within 10.6), 30 % of frauds never reported.
RARE_MIXED = HandbookScenario(
    payments_per_day_range=(1.0, 5.0),
    fraud_amount_limit=1000.0,
    compromised_terminals_per_day=1,
    terminal_compromise_days=2,
    compromised_customers_per_day=2,
    customer_compromise_days=14,
    customer_fraud_share=0.2,
    customer_fraud_amount_multiplier=2.0,
    label_delay_days=0.5,
    label_delay_max_days=15.0,
    reported_share=0.7,
)
#: The sets of this bench that are not in producers/handbook.py's profiles.
INVENTED_SETS = {
    "invented": INVENTED,
    "invented-b": INVENTED_B,
    "spread-delay": SPREAD_DELAY,
    "unreported": UNREPORTED,
    "rare-mixed": RARE_MIXED,
}
#: The longest training window a candidate may ask for (the learner keeps this much log).
LONGEST_TRAIN_DAYS = 56


@dataclass(frozen=True)
class Candidate:
    name: str
    params: TrainingParams
    train_days: int = 28
    retrain_every_days: int = 1


def candidates() -> list[Candidate]:
    base = replace(TrainingParams(), trees=60, leaves=15, depth=4, learning_rate=0.15)  # session 2's default
    deep = replace(base, trees=100, leaves=15, depth=-1, learning_rate=0.1)
    return [
        Candidate("60 trees, depth 4, lr .15, 56 days (the backtest's own)", base, LONGEST_TRAIN_DAYS),
        Candidate("60 trees, depth 4, lr .15 (session 2)", base),
        Candidate("100 trees, 15 leaves, lr .1", deep),
        Candidate("100 trees, 15 leaves, lr .1, 14 days", deep, 14),
        Candidate("100 trees, 15 leaves, lr .1, 56 days", deep, 56),
        Candidate("100 trees, 15 leaves, lr .1, min leaf 50", replace(deep, min_data_in_leaf=50)),
        Candidate("100 trees, 15 leaves, lr .1, 100 neg/fraud", replace(deep, negatives_per_fraud=100)),
        Candidate("100 trees, 31 leaves, lr .1", replace(deep, leaves=31)),
        Candidate("150 trees, depth 5, lr .1", replace(base, trees=150, leaves=31, depth=5, learning_rate=0.1)),
        Candidate("200 trees, 15 leaves, lr .05", replace(deep, trees=200, learning_rate=0.05)),
        Candidate("300 trees, 31 leaves, lr .05", replace(deep, trees=300, leaves=31, learning_rate=0.05)),
        Candidate("200 trees, 15 leaves, lr .05, 56 days", replace(deep, trees=200, learning_rate=0.05), 56),
        Candidate("200 trees, 15 leaves, lr .05, retrained every 2 days", TrainingParams(), retrain_every_days=2),
        Candidate("200 trees, 15 leaves, lr .05, retrained every 3 days", TrainingParams(), retrain_every_days=3),
        Candidate("200 trees, 15 leaves, lr .05, 63 bins (session 4)", replace(TrainingParams(), max_bins=63)),
    ]


def scenario_of(name: str, customers: int, terminals: int) -> HandbookScenario:
    if name in INVENTED_SETS:
        return replace(INVENTED_SETS[name], customers=customers, terminals=terminals)
    return profile(name, customers=customers, terminals=terminals)


@dataclass(frozen=True)
class SetUp:
    """A parameter set simulated, its protocol and split, and the baselines' rows on it."""

    name: str
    data: HandbookData
    protocol: Protocol
    split: Split
    baselines: list[Row]
    #: Each baseline's score of every test row, in ``baselines``' order.
    baseline_scores: list[npt.NDArray[np.float64]]

    @classmethod
    def of(cls, name: str, customers: int, terminals: int, seed: int) -> SetUp:
        scenario = scenario_of(name, customers, terminals)
        data = simulate(scenario, seed)
        protocol = Protocol.for_scenario(scenario)
        baselines = baselines_with_scores(data, protocol, "xgboost", 1)
        return cls(
            name,
            data,
            protocol,
            train_test_split(data, protocol),
            [row for row, _ in baselines],
            [scores for _, scores in baselines],
        )

    def best_at_cards(self) -> tuple[str, npt.NDArray[np.float64]]:
        """The baseline with the highest Card Precision@100, and its test-row scores."""
        best = max(range(len(self.baselines)), key=lambda i: self.baselines[i].card_precision_at_100)
        return self.baselines[best].system, self.baseline_scores[best]

    def margin(self, row: Row) -> list[float]:
        """AP, recall at precision 0.85 and CP@100 of ``row`` minus the best baseline's of each."""
        baselines = self.baselines
        return [
            (row.average_precision or 0) - max(b.average_precision or 0 for b in baselines),
            row.recall_at_precision_85 - max(b.recall_at_precision_85 for b in baselines),
            row.card_precision_at_100 - max(b.card_precision_at_100 for b in baselines),
        ]

    def title(self, customers: int, terminals: int, seed: int, seconds: float, learner: LearningLog) -> str:
        test = self.split.test
        return (
            f"{self.name} ({customers} customers, {terminals} terminals, seed {seed}, {len(self.data):,} "
            f"transactions; test {int(test.sum())} rows, {int(self.data.is_fraud[test].sum())} frauds; "
            f"learning backtest {seconds:.0f} s; label delay {learner.label_delay.summary(learner.settings)})"
        )


def learn_once(
    data: HandbookData, protocol: Protocol, seed: int, rules: Path | None = None
) -> tuple[LearningLog, dict[str, float], float]:
    """The real learning backtest (one process) with a learner that keeps ``LONGEST_TRAIN_DAYS`` of log."""
    start = datetime.fromtimestamp(data.scenario.start_timestamp, UTC)
    learner = LearningLog.of(Learning(train_days=LONGEST_TRAIN_DAYS))
    with tempfile.TemporaryDirectory(prefix="fraudwatch-capacity-") as scratch:
        directory = Path(scratch)
        write_handbook_files(data.between_days(protocol.history_start_day, protocol.test_end_day), directory, seed=seed)
        started = time.perf_counter()
        run_backtest(
            directory / "transactions.jsonl",
            feedback=directory / "feedback.jsonl",
            workers=1,
            show_progress=False,
            test_start=start + timedelta(days=protocol.test_start_day),
            test_end=start + timedelta(days=protocol.test_end_day),
            decisions=directory / "decisions.jsonl",
            learner=learner,
            rules=rules,
        )
        seconds = time.perf_counter() - started
        risk, _ = read_decisions(directory / "decisions.jsonl")
    return learner, risk, seconds


def daily_models(learner: LearningLog, candidate: Candidate, days: Iterable[float]) -> Iterator[FraudModel | None]:
    """The model each day starting at ``days`` (UTC midnights) is scored with, retrained there as the
    backtest does; before the first model, None (the rules alone); a failed retraining keeps the last."""
    learner.params = candidate.params
    learner.settings = learner.settings.model_copy(update={"train_days": candidate.train_days})
    learner.models.clear()
    model = None
    for index, day in enumerate(days):
        if model is None or index % candidate.retrain_every_days == 0:
            artifact = learner.retrain(day)
            model = load_model(artifact) if artifact is not None else model
        yield model


def logged(learner: LearningLog) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The learner's decisions log: transaction ids, times and feature vectors (rows)."""
    ids = [t for chunk in learner.chunks for t in chunk.transaction_ids]
    times = np.concatenate([chunk.times for chunk in learner.chunks])
    return ids, times, np.concatenate([chunk.vectors for chunk in learner.chunks])


def scoring_cost(model: FraudModel, vectors: np.ndarray[Any, Any]) -> dict[str, float]:
    """CPU µs per transaction, one by one (live) and batched (backtest)."""
    sample = vectors[-2000:]
    started = time.process_time()
    for vector in sample.tolist():
        model.score(vector)
    one = time.process_time() - started
    started = time.process_time()
    model.score_many(sample)
    batch = time.process_time() - started
    return {"one_us": 1e6 * one / len(sample), "batch_us": 1e6 * batch / len(sample)}


def replay(
    learner: LearningLog, candidate: Candidate, data: HandbookData, protocol: Protocol, test: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[str, float]]:
    """Probabilities and alerts of the test rows from the candidate's daily models, and its scoring cost."""
    ids, _, vectors = logged(learner)
    position = {t: i for i, t in enumerate(ids)}
    rows = np.flatnonzero(test)
    probability = np.zeros(len(rows))
    alerts = np.zeros(len(rows), dtype=bool)
    days = data.day[rows]
    test_days = range(protocol.test_start_day, protocol.test_end_day)
    starts = (data.scenario.start_timestamp + day * DAY_S for day in test_days)
    model = None
    for day, model in zip(test_days, daily_models(learner, candidate, starts), strict=True):
        if model is None:
            raise RuntimeError(f"{candidate.name}: no model at day {day}")
        today = np.flatnonzero(days == day)
        chosen = vectors[[position[transaction_id(int(rows[i]))] for i in today]]
        probability[today] = model.score_many(chosen)
        alerts[today] = probability[today] >= model.threshold
    assert model is not None
    return probability, alerts, scoring_cost(model, vectors)


def set_arguments(doc: str | None, what: str) -> argparse.ArgumentParser:
    """The options both capacity benches share: which parameter sets, their size, and which of ``what`` to run."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sets", nargs="+", default=["handbook", "handbook-variant-a", "handbook-variant-b", "invented", "invented-b"]
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--terminals", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None, help=f"{what} numbers to run (default: all).")
    return parser


def main() -> None:
    parser = set_arguments(__doc__, "Candidate")
    parser.add_argument("--rules", type=Path, default=None, help="A rules file (default: config/rules.toml).")
    args = parser.parse_args()
    chosen = [c for i, c in enumerate(candidates()) if args.only is None or str(i) in args.only]
    margins: dict[str, dict[str, list[float]]] = {c.name: {} for c in chosen}
    costs: dict[str, dict[str, float]] = {}
    results: dict[str, Any] = {}
    for name in args.sets:
        setup = SetUp.of(name, args.customers, args.terminals, args.seed)
        data, protocol, split, baselines = setup.data, setup.protocol, setup.split, setup.baselines
        learner, risk, seconds = learn_once(data, protocol, args.seed, args.rules)
        test_ids = [transaction_id(int(i)) for i in np.flatnonzero(split.test)]
        backtest_scores = np.array([risk[t] for t in test_ids])
        rows: list[Row] = list(baselines)
        check = judge("backtest itself (56 days)", data, split.test, backtest_scores, backtest_scores >= 50, 0, "")
        rows.append(check)
        for candidate in chosen:
            started = time.perf_counter()
            probability, alerts, cost = replay(learner, candidate, data, protocol, split.test)
            row = judge(candidate.name, data, split.test, probability, alerts, cost["one_us"], "model")
            rows.append(row)
            costs[candidate.name] = cost
            margins[candidate.name][name] = setup.margin(row)
            print(f"  {name}: {candidate.name} replayed in {time.perf_counter() - started:.0f} s", flush=True)
        print_table(setup.title(args.customers, args.terminals, args.seed, seconds, learner), rows, False)
        results[name] = [asdict(r) for r in rows]
    print("\n## Margin over the best baseline (AP / recall at P 0.85 / CP@100), per set; scoring cost\n")
    print("| candidate | " + " | ".join(args.sets) + " | worst | µs one / batch |")
    print("|---|" + "---:|" * (len(args.sets) + 2))
    for candidate in chosen:
        per_set = margins[candidate.name]
        worst = min(min(m) for m in per_set.values())
        cells = " | ".join("{:+.3f} / {:+.3f} / {:+.3f}".format(*per_set[s]) for s in args.sets)
        cost = costs[candidate.name]
        print(f"| {candidate.name} | {cells} | {worst:+.3f} | {cost['one_us']:.1f} / {cost['batch_us']:.1f} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "model-capacity.json").write_text(json.dumps({"rows": results, "margins": margins}, indent=2) + "\n")


if __name__ == "__main__":
    main()
