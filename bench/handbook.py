"""The field's benchmark: the Fraud Detection Handbook's baselines beside fraudwatch, on the same data.

    .venv/bin/python -m bench.handbook [--profiles handbook handbook-variant-a] [--customers N]

For each parameter set (producers/handbook.py): simulate it, then

* baselines (logistic regression, random forest, gradient-boosted trees) on the Handbook's 15
  features, trained offline on 7 days, a delay as long as the labels' delay, tested on 7 days
  (bench/handbook_features.py), as the Handbook's baseline chapter does;
* fraudwatch as it runs live: the real `fraudwatch backtest` entry point over the written
  JSONL files, chargebacks taking effect at their ``known_at`` only, its decisions file read back.

Every system is judged on the same test rows (the Handbook's test set: known compromised cards
removed) with the same functions (detection/ranking.py, detection/quality.py). Prints one table
per parameter set and the per-transaction cost of scoring; writes bench/out/handbook-<profile>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.handbook_features import Protocol, baseline_features, known_labels, train_test_split
from detection.quality import Quality
from detection.ranking import auc_roc, average_precision, card_precision_at_k, recall_at_precision
from producers.handbook import SCENARIO_PATTERNS, HandbookData, profile, simulate
from producers.handbook_files import transaction_id, write_handbook_files
from runtime.backtest import run_backtest

OUT = Path(__file__).with_name("out")
MIN_PRECISION = 0.85
#: The per-pattern view's name for the frauds that never became a chargeback (any pattern).
NEVER_REPORTED = "never reported"
TOP_K = 100
#: The Handbook's own test-set figures (chapter 3, "Baseline fraud detection system", its table):
#: (AUC ROC, average precision, CP@100) on its data, for the reproduction check.
PUBLISHED = {
    "logistic regression": (0.871, 0.606, 0.291),
    "random forest": (0.867, 0.658, 0.287),
    "XGBoost": (0.862, 0.639, 0.273),
}
Classifier = Any  # scikit-learn's estimator protocol (fit / predict_proba); the libraries are untyped


@dataclass(frozen=True)
class Row:
    system: str
    auc_roc: float | None
    average_precision: float | None
    card_precision_at_100: float
    precision: float
    recall: float
    recall_at_precision_85: float
    us_per_tx: float
    threshold: str
    #: fraud pattern (or NEVER_REPORTED) -> (frauds, AP, recall at precision 0.85) among the genuine rows and
    #: that pattern's frauds
    per_pattern: dict[str, tuple[int, float, float]] = field(default_factory=dict)


def judge(
    system: str,
    data: HandbookData,
    test: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    alerts: npt.NDArray[np.bool_],
    us_per_tx: float,
    threshold: str,
) -> Row:
    """One system's figures on the test rows; ``scores`` and ``alerts`` are aligned with the test rows."""
    labels = data.is_fraud[test]
    quality = Quality(
        true_positives=int((alerts & labels).sum()),
        false_positives=int((alerts & ~labels).sum()),
        false_negatives=int((~alerts & labels).sum()),
    )
    top_k = card_precision_at_k(data.day[test], data.customer[test], scores, labels, TOP_K)
    patterns = data.scenario_number[test]
    views = [(pattern, (patterns == 0) | (patterns == number)) for number, pattern in enumerate(SCENARIO_PATTERNS)]
    views.append((NEVER_REPORTED, (patterns == 0) | np.isinf(data.known_s[test])))
    per_pattern = {}
    for pattern, rows in views:
        frauds = int(labels[rows].sum())
        if pattern is not None and frauds:
            ap = average_precision(labels[rows], scores[rows]) or 0.0
            per_pattern[pattern] = (frauds, ap, recall_at_precision(labels[rows], scores[rows], MIN_PRECISION))
    return Row(
        system,
        auc_roc(labels, scores),
        average_precision(labels, scores),
        top_k.mean,
        quality.precision,
        quality.recall,
        recall_at_precision(labels, scores, MIN_PRECISION),
        us_per_tx,
        threshold,
        per_pattern,
    )


def baseline_models(gbt: str, jobs: int = -1) -> dict[str, Callable[[], Classifier]]:
    """The Handbook's baselines with its settings (random_state=0, library defaults; ``jobs`` threads)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    models: dict[str, Callable[[], Classifier]] = {
        "logistic regression": lambda: LogisticRegression(random_state=0),
        "random forest": lambda: RandomForestClassifier(random_state=0, n_jobs=jobs),
    }
    if gbt in ("xgboost", "both"):
        from xgboost import XGBClassifier

        models["XGBoost"] = lambda: XGBClassifier(random_state=0, n_jobs=jobs)
    if gbt in ("lightgbm", "both"):
        from lightgbm import LGBMClassifier

        models["LightGBM"] = lambda: LGBMClassifier(random_state=0, n_jobs=jobs, verbose=-1)
    return models


def run_baselines(data: HandbookData, protocol: Protocol, gbt: str, jobs: int = -1) -> list[Row]:
    return [row for row, _ in baselines_with_scores(data, protocol, gbt, jobs)]


def baselines_with_scores(
    data: HandbookData, protocol: Protocol, gbt: str, jobs: int = -1
) -> list[tuple[Row, npt.NDArray[np.float64]]]:
    """Each baseline's row and its score of every test row (for comparisons finer than the row's figures).

    Where label delays are spread, the protocol's delay (the one 90 % of reports arrive within) leaves the
    terminal windows stale for most frauds, so each baseline runs a second time with its terminal windows
    ending at the median delay (fresher, missing the frauds reported later): the best of either is the
    bar. With one delay for all frauds the two are the same and the Handbook's baselines run once."""
    from sklearn.preprocessing import StandardScaler

    split = train_test_split(data, protocol)
    train_y = known_labels(data, split.train, protocol.test_start_day)  # all its frauds, in the Handbook's structure
    median_delay = math.ceil(data.scenario.label_delay_quantile_days(0.5))
    rows = []
    for delay in dict.fromkeys((protocol.delay_days, median_delay)):
        features = baseline_features(data, delay)
        # The Handbook scales the inputs with the training set's mean and deviation.
        scaler = StandardScaler().fit(features[split.train])
        train_x, test_x = scaler.transform(features[split.train]), scaler.transform(features[split.test])
        suffix = "" if delay == protocol.delay_days else f" (terminal windows at the median delay, {delay} days)"
        for name, make in baseline_models(gbt, jobs).items():
            model = make().fit(train_x, train_y)
            started = time.perf_counter()
            scores = model.predict_proba(test_x)[:, 1]
            us_per_tx = 1e6 * (time.perf_counter() - started) / len(test_x)
            rows.append((judge(name + suffix, data, split.test, scores, scores >= 0.5, us_per_tx, "0.5"), scores))
    return rows


def run_fraudwatch(
    data: HandbookData, protocol: Protocol, seed: int, workers: int | None, feedback_with_terminal: bool
) -> tuple[Row, dict[str, Any]]:
    """The real backtest over the written files, judged on the same test rows as the baselines."""
    split = train_test_split(data, protocol)
    start = datetime(data.scenario.start.year, data.scenario.start.month, data.scenario.start.day, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="fraudwatch-handbook-") as scratch:
        directory = Path(scratch)
        # From the history the baselines' longest window sees before their training window, to the
        # end of the test window: state and feedback build up in event time as they would live.
        write_handbook_files(
            data.between_days(protocol.history_start_day, protocol.test_end_day),
            directory,
            seed=seed,
            feedback_with_terminal=feedback_with_terminal,
        )
        report = run_backtest(
            directory / "transactions.jsonl",
            feedback=directory / "feedback.jsonl",
            workers=workers,
            show_progress=False,
            test_start=start + timedelta(days=protocol.test_start_day),
            test_end=start + timedelta(days=protocol.test_end_day),
            decisions=directory / "decisions.jsonl",
        )
        risk, alert = read_decisions(directory / "decisions.jsonl")
    test_ids = [transaction_id(int(i)) for i in np.flatnonzero(split.test)]
    scores = np.array([risk[t] for t in test_ids])
    alerts = np.array([alert[t] for t in test_ids])
    # The whole run per transaction read: parsing, features, rules (and model), state, evaluation.
    us_per_tx = 1e6 / report["throughput_tx_per_s"]
    return judge("fraudwatch", data, split.test, scores, alerts, us_per_tx, "alert"), report


def read_decisions(path: Path) -> tuple[dict[str, float], dict[str, bool]]:
    risk, alert = {}, {}
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            risk[record["transaction_id"]] = record["risk"]
            alert[record["transaction_id"]] = record["alert"]
    return risk, alert


def print_table(name: str, rows: list[Row], published: bool) -> None:
    print(f"\n## {name}\n")
    print("| system | AUC ROC | AP | CP@100 | precision / recall (at) | recall at precision 0.85 | scoring µs/tx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.system} | {_f(row.auc_roc)} | {_f(row.average_precision)} | {_f(row.card_precision_at_100)} | "
            f"{row.precision:.3f} / {row.recall:.3f} ({row.threshold}) | {row.recall_at_precision_85:.3f} | "
            f"{row.us_per_tx:.1f} |"
        )
    views = (*SCENARIO_PATTERNS, NEVER_REPORTED)
    patterns = [p for p in views if p is not None and any(p in row.per_pattern for row in rows)]
    if patterns:
        frauds = [max(row.per_pattern.get(p, (0, 0.0, 0.0))[0] for row in rows) for p in patterns]
        names = " | ".join(f"{p} ({n} frauds)" for p, n in zip(patterns, frauds, strict=True))
        print("\nPer fraud pattern, among the genuine rows and that pattern's frauds: AP / recall at precision 0.85\n")
        print(f"| system | {names} |")
        print("|---|" + "---:|" * len(patterns))
        for row in rows:
            found = [row.per_pattern.get(p) for p in patterns]
            cells = " | ".join("—" if f is None else f"{f[1]:.3f} / {f[2]:.3f}" for f in found)
            print(f"| {row.system} | {cells} |")
    if published:
        print("\nThe Handbook's published baselines on its own data (AUC ROC / AP / CP@100):")
        for system, (auc, ap, cp) in PUBLISHED.items():
            print(f"  {system:<20} {auc:.3f} / {ap:.3f} / {cp:.3f}")


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["handbook", "handbook-variant-a"])
    parser.add_argument("--customers", type=int, default=None, help="Default: the profile's (5 000).")
    parser.add_argument("--terminals", type=int, default=None, help="Default: the profile's (10 000).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="fraudwatch backtest processes.")
    parser.add_argument("--gbt", choices=("lightgbm", "xgboost", "both"), default="xgboost")
    parser.add_argument("--jobs", type=int, default=-1, help="Threads for training the baselines (-1: all cores).")
    parser.add_argument("--feedback-with-terminal", action="store_true", help="Chargebacks also name the terminal.")
    parser.add_argument("--skip-fraudwatch", action="store_true", help="Baselines only (harness check).")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for name in args.profiles:
        scenario = profile(name, customers=args.customers, terminals=args.terminals)
        started = time.perf_counter()
        data = simulate(scenario, args.seed)
        protocol = Protocol.for_scenario(scenario)
        rows = run_baselines(data, protocol, args.gbt, args.jobs)
        report: dict[str, Any] = {}
        if not args.skip_fraudwatch:
            row, report = run_fraudwatch(data, protocol, args.seed, args.workers, args.feedback_with_terminal)
            rows.insert(0, row)
        split = train_test_split(data, protocol)
        print_table(
            f"{name} (seed {args.seed}, {len(data):,} transactions, protocol {protocol})", rows, name == "handbook"
        )
        print(
            f"test set: {int(split.test.sum()):,} transactions, {int(data.is_fraud[split.test].sum())} frauds; "
            f"training set: {int(split.train.sum()):,}, {int(data.is_fraud[split.train].sum())} frauds; "
            f"{time.perf_counter() - started:.0f} s"
        )
        result = {
            "profile": name,
            "seed": args.seed,
            "scenario": {k: str(v) for k, v in asdict(scenario).items()},
            "protocol": asdict(protocol),
            "rows": [asdict(row) for row in rows],
            "fraudwatch_report": {k: v for k, v in report.items() if not k.endswith("_per_day")},
        }
        (OUT / f"handbook-{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
