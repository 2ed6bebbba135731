"""Where fraudwatch's ranking trails the Handbook's best baseline: an ablation on the same rows.

    .venv/bin/python -m bench.ranking_gap [--sets handbook handbook-variant-a ...] [--customers 2000]

For each parameter set: simulate it, run the Handbook baselines, run the real learning backtest
once (bench/model_capacity.py), then fit every variant below from that backtest's decisions log
joined with the labels known at each cut-off (``LearningLog.labelled``: no label known after the
cut-off), and score the Handbook test rows. A variant changes one thing at a time:

* the score ranked: the backtest's reported 0-100 risk (model and hard rules) or the model's
  probability alone;
* the model: fraudwatch's trainer (LightGBM, its parameters, held-out threshold, negatives
  sampled) with one setting changed, or the baselines' random forest (scikit-learn defaults);
* the features: the logged vector fraudwatch scores, its 15 columns that stand for the Handbook's
  features, or the Handbook's 15 features computed offline (bench/handbook_features.py; labels
  shifted by the data's true delay, so known at scoring time in these data sets);
* the training window and how often it is refitted (daily as the backtest, or once at the test
  start as the Handbook's protocol).

Prints one table per set and the margins over the best baseline; writes bench/out/ranking-gap.json.
``--cards``: per variant, which fraud cards its daily top 100 holds and the best CP@100 baseline's does
not, and vice versa (bench/top_cards.py).
"""

from __future__ import annotations

import json
import math
import pickle
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.handbook import OUT, Row, judge, print_table
from bench.handbook_features import Protocol, baseline_features
from bench.model_capacity import LONGEST_TRAIN_DAYS, SetUp, learn_once, logged, set_arguments
from bench.top_cards import print_differences, top_card_differences
from detection.features import FEATURE_NAMES
from detection.learning import LabelledLog, LearningLog
from detection.model import load_model
from detection.rules_config import Learning
from detection.training import TrainingParams, train_arrays
from producers.handbook import HandbookData
from producers.handbook_files import transaction_id

DAY_S = 86_400.0
#: fraudwatch's columns that stand for the Handbook's 15 features, in its order.
LOGGED_15 = (
    "amount_eur",
    "weekend",
    "night",
    "count_24h",
    "mean_amount_24h",
    "count_7d",
    "mean_amount_7d",
    "count_30d",
    "mean_amount_30d",
    "terminal_tx_1d",
    "terminal_fraud_share_1d",
    "terminal_tx_7d",
    "terminal_fraud_share_7d",
    "terminal_tx_30d",
    "terminal_fraud_share_30d",
)
#: Positions in LOGGED_15 of the customer's and the terminal's windows.
CUSTOMER_WINDOWS = (3, 4, 5, 6, 7, 8)
TERMINAL_WINDOWS = (9, 10, 11, 12, 13, 14)
Features = Literal["logged", "logged-15", "handbook-15", "logged+handbook-15"]
Model = Literal["fraudwatch", "forest"]


@dataclass(frozen=True)
class Variant:
    name: str
    model: Model = "fraudwatch"
    features: Features = "logged"
    train_days: int = 28
    #: 1: refitted at every test day's midnight (the backtest); 7: once at the test start (the Handbook)
    every_days: int = 1
    params: TrainingParams = field(default_factory=TrainingParams)
    #: with ``logged-15``: positions of LOGGED_15 taken from the Handbook's features instead
    handbook_columns: tuple[int, ...] = ()
    #: days added to the data's delay where the Handbook's terminal windows end
    later_by_days: int = 0
    #: fit only on rows older than the label maturity (a fraud reported early waits like a silent row)
    mature_rows_only: bool = False
    #: the training window grows from ``train_days`` until it holds this many known frauds (None: the
    #: rules file's ``train_min_frauds``; 0: it never grows, as before session 10)
    min_train_frauds: int | None = None
    #: add the Handbook's 6 terminal windows ending at the data's median label delay (whole days, rounded
    #: up) beside the logged vector: an offline stand-in for windows at a second quantile of the learned
    #: delay, so the model weighs fresh-but-incomplete against complete-but-stale (session 11)
    median_terminal_windows: bool = False


def variants() -> list[Variant]:
    default = TrainingParams()
    return [
        Variant("fraudwatch default (28 days or until 800 known frauds, daily)"),
        Variant("fraudwatch, 56 days, daily (the backtest's own)", train_days=LONGEST_TRAIN_DAYS),
        Variant("fraudwatch, once at test start", every_days=7),
        Variant("fraudwatch, refit on held-out days too", every_days=7, params=replace(default, refit=True)),
        Variant("fraudwatch, every negative", every_days=7, params=replace(default, negatives_per_fraud=10**9)),
        Variant("fraudwatch, 14 days", train_days=14, every_days=7),
        Variant("fraudwatch on its 15 Handbook-like columns", features="logged-15", every_days=7),
        Variant("fraudwatch on the Handbook's 15", features="handbook-15", every_days=7),
        Variant("fraudwatch on its own + the Handbook's 15", features="logged+handbook-15", every_days=7),
        Variant("random forest on fraudwatch's features", model="forest", every_days=7),
        Variant("random forest on its 15 Handbook-like columns", model="forest", features="logged-15", every_days=7),
        Variant("random forest on the Handbook's 15", model="forest", features="handbook-15", every_days=7),
        Variant(
            "random forest on the Handbook's 15, 14 days",
            model="forest",
            features="handbook-15",
            train_days=14,
            every_days=7,
        ),
        Variant(
            "random forest on its 15, the Handbook's customer windows",
            model="forest",
            features="logged-15",
            every_days=7,
            handbook_columns=CUSTOMER_WINDOWS,
        ),
        Variant(
            "random forest on its 15, the Handbook's terminal windows",
            model="forest",
            features="logged-15",
            every_days=7,
            handbook_columns=TERMINAL_WINDOWS,
        ),
        Variant("fraudwatch, 255 bins", params=replace(default, max_bins=255)),
        Variant("fraudwatch, 1023 bins", params=replace(default, max_bins=1023)),
        Variant("fraudwatch, 255 bins, 56 days", train_days=LONGEST_TRAIN_DAYS, params=replace(default, max_bins=255)),
        Variant(
            "fraudwatch on its 15, 255 bins, the Handbook's terminal windows",
            features="logged-15",
            params=replace(default, max_bins=255),
            handbook_columns=TERMINAL_WINDOWS,
        ),
        Variant(
            "fraudwatch on its 15, 255 bins, the Handbook's customer windows",
            features="logged-15",
            params=replace(default, max_bins=255),
            handbook_columns=CUSTOMER_WINDOWS,
        ),
        Variant("fraudwatch on its 15, 255 bins", features="logged-15", params=replace(default, max_bins=255)),
        Variant(
            "random forest on its 15, the Handbook's terminal windows ending a day earlier",
            model="forest",
            features="logged-15",
            every_days=7,
            handbook_columns=TERMINAL_WINDOWS,
            later_by_days=1,
        ),
        Variant("fraudwatch, only rows older than the label maturity", mature_rows_only=True),
        Variant("fraudwatch, always 28 days (before session 10)", min_train_frauds=0),
        Variant("fraudwatch + terminal windows at the median delay", median_terminal_windows=True),
    ]


class Columns:
    """The feature matrix a variant fits and scores, for logged rows named by transaction id."""

    def __init__(self, data: HandbookData, protocol: Protocol) -> None:
        self.data, self.delay_days = data, protocol.delay_days
        self.handbook_by_delay: dict[int, np.ndarray[Any, Any]] = {}
        self.logged_15 = [FEATURE_NAMES.index(name) for name in LOGGED_15]

    def handbook(self, later_by_days: int) -> np.ndarray[Any, Any]:
        delay = self.delay_days + later_by_days
        if delay not in self.handbook_by_delay:
            self.handbook_by_delay[delay] = baseline_features(self.data, delay)
        return self.handbook_by_delay[delay]

    def median_terminal(self) -> np.ndarray[Any, Any]:
        """The Handbook's terminal windows ending at the data's median label delay, every row."""
        median = math.ceil(self.data.scenario.label_delay_quantile_days(0.5))
        return self.handbook(median - self.delay_days)[:, TERMINAL_WINDOWS]

    def of(self, variant: Variant, ids: list[str], vectors: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if variant.median_terminal_windows:
            rows = [int(t[2:]) for t in ids]
            return np.hstack(
                [self.of(replace(variant, median_terminal_windows=False), ids, vectors), self.median_terminal()[rows]]
            )
        if variant.features == "logged":
            return vectors
        handbook = self.handbook(variant.later_by_days)[[int(t[2:]) for t in ids]]
        if variant.features == "logged-15":
            mixed = vectors[:, self.logged_15]
            mixed[:, variant.handbook_columns] = handbook[:, variant.handbook_columns]
            return mixed
        return handbook if variant.features == "handbook-15" else np.hstack([vectors, handbook])


def fit_and_score(
    variant: Variant, log: LabelledLog, x: np.ndarray[Any, Any], cutoff: float, test_x: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """The variant's model fitted on the rows whose label was known at ``cutoff``; its test-row scores."""
    names = [f"f{i}" for i in range(x.shape[1])]
    if variant.model == "forest":
        from sklearn.ensemble import RandomForestClassifier

        usable = log.known_at <= cutoff
        forest = RandomForestClassifier(random_state=0, n_jobs=1).fit(x[usable], log.labels[usable])
        return np.asarray(forest.predict_proba(test_x)[:, 1])
    from datetime import UTC, datetime

    artifact = train_arrays(
        x,
        log.labels,
        log.times,
        log.known_at,
        version="ablation",
        trained_until=datetime.fromtimestamp(cutoff, UTC),
        params=variant.params,
        feature_names=names,
    )
    return np.asarray(load_model(artifact, names).score_many(test_x))


def replay(
    learner: LearningLog,
    variant: Variant,
    columns: Columns,
    data: HandbookData,
    protocol: Protocol,
    test: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Scores of the test rows, from the variant's models refitted every ``every_days`` test days."""
    ids, _, vectors = logged(learner)
    position = {t: i for i, t in enumerate(ids)}
    rows = np.flatnonzero(test)
    row_ids = [transaction_id(int(r)) for r in rows]
    test_x = columns.of(variant, row_ids, vectors[[position[t] for t in row_ids]])
    scores = np.zeros(len(rows))
    days = data.day[rows]
    window: dict[str, int] = {"train_days": variant.train_days}
    if variant.min_train_frauds is not None:
        window["train_min_frauds"] = variant.min_train_frauds
    learner.settings = learner.settings.model_copy(update=window)
    for first in range(protocol.test_start_day, protocol.test_end_day, variant.every_days):
        cutoff = data.scenario.start_timestamp + first * DAY_S
        log = learner.labelled(cutoff)
        if log is None:
            raise RuntimeError(f"{variant.name}: nothing logged before day {first}")
        log = shaped(variant, log, cutoff)
        scored = np.flatnonzero((days >= first) & (days < first + variant.every_days))
        x = columns.of(variant, log.transaction_ids, log.vectors)
        scores[scored] = fit_and_score(variant, log, x, cutoff, test_x[scored])
    return scores


def shaped(variant: Variant, log: LabelledLog, cutoff: float) -> LabelledLog:
    """The labelled log as the variant fits it: with ``mature_rows_only``, a fraud reported before the
    label maturity waits like a silent row."""
    if not variant.mature_rows_only:
        return log
    silent = ~log.labels
    maturity = float(np.max(log.known_at[silent] - log.times[silent])) if silent.any() else 0.0
    keep = log.times + maturity <= cutoff
    return LabelledLog(
        [t for t, k in zip(log.transaction_ids, keep, strict=True) if k],
        log.vectors[keep],
        log.labels[keep],
        log.times[keep],
        log.known_at[keep],
    )


def learned(
    data: HandbookData, protocol: Protocol, seed: int, cache: Path | None, *key: object
) -> tuple[LearningLog, dict[str, float], float]:
    """``learn_once``, or its result kept in ``cache`` by an earlier run of the same set."""
    if cache is None:
        return learn_once(data, protocol, seed)
    path = cache / ("learned-" + "-".join(map(str, (*key, seed))) + ".pickle")
    if path.exists():
        with path.open("rb") as file:
            kept: tuple[LearningLog, dict[str, float], float] = pickle.load(file)  # our own file, written below
        # Settings added since the file was written take their defaults (a pickle restores only the old fields).
        kept[0].settings = Learning.model_validate(kept[0].settings.__dict__)
        return kept
    result = learn_once(data, protocol, seed)
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    return result


def main() -> None:
    parser = set_arguments(__doc__, "Variant")
    parser.add_argument(
        "--cache", type=Path, default=None, help="Keep each set's learning backtest here and reuse it (same code)."
    )
    parser.add_argument(
        "--cards",
        action="store_true",
        help="Per variant, the fraud cards its daily top 100 holds and the best CP@100 baseline's does not.",
    )
    args = parser.parse_args()
    chosen = [v for i, v in enumerate(variants()) if args.only is None or str(i) in args.only]
    results: dict[str, Any] = {}
    margins: dict[str, dict[str, list[float]]] = {}
    for name in args.sets:
        setup = SetUp.of(name, args.customers, args.terminals, args.seed)
        data, protocol, split = setup.data, setup.protocol, setup.split
        learner, risk, seconds = learned(data, protocol, args.seed, args.cache, name, args.customers, args.terminals)
        columns = Columns(data, protocol)
        test_ids = [transaction_id(int(i)) for i in np.flatnonzero(split.test)]
        reported = np.array([risk[t] for t in test_ids])
        rows: list[Row] = [
            *setup.baselines,
            judge("the backtest's reported risk (56 days)", data, split.test, reported, reported >= 50, 0, ""),
        ]
        for variant in chosen:
            started = time.perf_counter()
            scores = replay(learner, variant, columns, data, protocol, split.test)
            rows.append(judge(variant.name, data, split.test, scores, scores >= 0.5, 0, "0.5"))
            print(f"  {name}: {variant.name} in {time.perf_counter() - started:.0f} s", flush=True)
            if args.cards:
                baseline, baseline_scores = setup.best_at_cards()
                differences = top_card_differences(data, split.test, protocol.delay_days, baseline_scores, scores)
                print_differences(f"{baseline} on {name}", variant.name, differences)
        for row in rows[len(setup.baselines) :]:
            margins.setdefault(row.system, {})[name] = setup.margin(row)
        print_table(setup.title(args.customers, args.terminals, args.seed, seconds, learner), rows, False)
        results[name] = [asdict(r) for r in rows]
    print("\n## Margin over the best baseline (AP / recall at P 0.85 / CP@100)\n")
    print("| variant | " + " | ".join(args.sets) + " |")
    print("|---|" + "---:|" * len(args.sets))
    for system, per_set in margins.items():
        cells = " | ".join("{:+.3f} / {:+.3f} / {:+.3f}".format(*per_set[s]) for s in args.sets if s in per_set)
        print(f"| {system} | {cells} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "ranking-gap.json").write_text(json.dumps({"rows": results, "margins": margins}, indent=2) + "\n")


if __name__ == "__main__":
    main()
