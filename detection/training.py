"""Train a model from decisions as they were scored, joined with the labels known at a cut-off.

No leakage: an example counts only if its label was known at ``trained_until`` (``known_at``);
a transaction with no report is taken as legitimate only once it is older than the delay within
which most frauds get reported (measured from the reports themselves), so a fraud not reported
*yet* is not learned as a legitimate payment.

Library (measured, bench/RESULTS.md): LightGBM boosted trees, exported to the library-free
``detection.model`` tree format; logistic regression (scikit-learn) is the alternative kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import numpy as np

from detection.features import FEATURE_NAMES, FEATURE_VERSION
from detection.model import ModelArtifact, encode_payload, load_model, probabilities_of
from detection.ranking import average_precision, precision_recall_curve
from detection.rules_config import Learning

DAY_S = 86_400.0
#: Reports arrive within this share of their delays; used as the age at which silence means legitimate.
MATURITY_QUANTILE = 0.9
MAX_MATURITY_S = 30 * DAY_S


class LabelledExample(NamedTuple):
    """A decision's feature vector as scored, its label, its transaction time and when the label became known."""

    vector: Sequence[float]
    label: bool
    ts: float
    known_at: float


class Outcome(NamedTuple):
    """What feedback said about a transaction, and when it was known (epoch seconds)."""

    is_fraud: bool
    known_at: float


class LoggedDecision(NamedTuple):
    """One line of the decisions log: what training needs of it."""

    transaction_id: str
    ts: float
    vector: Sequence[float]


class Fitted(NamedTuple):
    """A fitted model's payload document, what fitted it, and its probabilities for rows exactly as
    ``detection.model`` scores the payload."""

    document: dict[str, Any]
    library: str
    probabilities: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]


class NotEnoughLabelsError(ValueError):
    """Too few frauds or legitimate examples known at the cut-off to fit a model."""


def label_maturity_s(outcomes: Iterable[tuple[float, Outcome]], cutoff: float) -> float:
    """The delay within which ``MATURITY_QUANTILE`` of fraud reports known at ``cutoff`` arrived.

    ``outcomes`` are (transaction time, outcome) pairs.
    """
    delays = sorted(o.known_at - ts for ts, o in outcomes if o.is_fraud and o.known_at <= cutoff)
    if not delays:
        return MAX_MATURITY_S
    return min(max(0.0, delays[min(len(delays) - 1, int(MATURITY_QUANTILE * len(delays)))]), MAX_MATURITY_S)


def training_start(fraud_times: Iterable[float], cutoff: float, days: int, min_frauds: int, max_days: int) -> float:
    """Where a model's training window starts: ``days`` before the cut-off, or as many more whole days (up
    to ``max_days``) as it takes to hold ``min_frauds`` frauds known at the cut-off (``fraud_times``: their
    payment times). Where fraud is rare, a month holds too few to learn from (bench/RESULTS.md, session 10);
    where it is not, the window is ``days`` as before."""
    if min_frauds > 0:
        times = np.sort(np.fromiter(fraud_times, dtype=np.float64))[::-1]
        times = times[times <= cutoff]
        if len(times) < min_frauds:
            days = max(days, max_days)
        else:
            reach_days = math.ceil((cutoff - times[min_frauds - 1]) / DAY_S - 1e-9)
            days = max(days, min(reach_days, max_days))
    return cutoff - days * DAY_S


def windowed_examples(
    decisions: Iterable[LoggedDecision],
    outcomes: Mapping[str, Outcome],
    cutoff: float,
    days: int,
    min_frauds: int,
    max_days: int,
) -> list[LabelledExample]:
    """``label_examples`` of the decisions inside the training window that ``training_start`` sets: ``days``,
    grown up to ``max_days`` until it holds ``min_frauds`` frauds known at ``cutoff`` (``outcomes``: as known then)."""
    logged = list(decisions)
    frauds = (d.ts for d in logged if (o := outcomes.get(d.transaction_id)) is not None and o.is_fraud)
    since = training_start(frauds, cutoff, days, min_frauds, max_days)
    return label_examples([d for d in logged if d.ts >= since], outcomes, cutoff)


def label_examples(
    decisions: Iterable[LoggedDecision], outcomes: Mapping[str, Outcome], cutoff: float
) -> list[LabelledExample]:
    """Join logged decisions with the outcomes known at ``cutoff`` (see the module's note on silence)."""
    logged = list(decisions)
    times = {d.transaction_id: d.ts for d in logged}
    maturity = label_maturity_s(((times[t], o) for t, o in outcomes.items() if t in times), cutoff)
    examples = []
    for decision in logged:
        outcome = outcomes.get(decision.transaction_id)
        if outcome is not None and outcome.known_at <= cutoff:
            examples.append(LabelledExample(decision.vector, outcome.is_fraud, decision.ts, outcome.known_at))
        elif decision.ts + maturity <= cutoff:
            examples.append(LabelledExample(decision.vector, False, decision.ts, decision.ts + maturity))
    return examples


@dataclass(frozen=True)
class TrainingParams:
    kind: Literal["trees", "linear"] = "trees"
    # Where the model alerts (see ``pick_threshold``), judged on the held-out recent examples.
    operating_point: Literal["best_f1", "precision"] = "best_f1"
    min_precision: float = 0.5
    target_precision: float = 0.8
    holdout_share: float = 0.2  # the most recent share of examples (by transaction time) picks the threshold
    negatives_per_fraud: int = 20  # legitimate examples kept per fraud for fitting (all are kept for holdout)
    # Refit on every example (recent days included) after the threshold is picked: twice the training
    # time, for a model a few days fresher. Off by default: features, not the fit, carry recent risk.
    refit: bool = False
    min_frauds: int = 20
    # Chosen on four parameter sets (bench.model_capacity, bench/RESULTS.md): 200 trees of 15 leaves at
    # learning rate 0.05 beat 60 depth-4 trees at 0.15 on AP, recall at precision 0.85 and CP@100 on
    # every set. Depth is the scoring cost (one comparison per level per tree; one numpy step per
    # level for a batch): about 4x the shallow ensemble's, printed by the bench.
    trees: int = 200
    leaves: int = 15
    depth: int = -1  # unbounded: the leaf count bounds a tree
    learning_rate: float = 0.05
    min_data_in_leaf: int = 20
    #: Histogram bins per feature: the split points a tree can choose among. Fraud patterns are cuts at
    #: exact values (an amount limit, a terminal's fraud share); 63 bins put a cut up to a bin's width
    #: off and cost AP .02-.05 and recall at precision 0.85 .03-.13 on four parameter sets; 1023 came
    #: closest to exact cuts there (bench.ranking_gap, bench/RESULTS.md "Session 5"). Same tree count
    #: and leaves, but scoring measured 1.3-1.45x the 63-bin model's in the full-size handbook run
    #: (106.5 vs 79.7 µs one by one, 29.2 vs 20.1 batched; one loaded run), and fitting reads wider histograms.
    max_bins: int = 1023
    seed: int = 7


def training_params(settings: Learning, **overrides: Any) -> TrainingParams:
    """The rules file's ``[learning]`` settings as training parameters (the rest: the measured defaults)."""
    return replace(
        TrainingParams(),
        operating_point=settings.operating_point,
        min_precision=settings.min_precision,
        target_precision=settings.target_precision,
        min_frauds=settings.min_frauds,
        **overrides,
    )


def train_model(
    examples: Iterable[LabelledExample],
    *,
    version: str,
    trained_until: datetime,
    params: TrainingParams | None = None,
    feature_names: Sequence[str] = FEATURE_NAMES,
    label_delay_days: float | None = None,
    feature_version: int = FEATURE_VERSION,
) -> ModelArtifact:
    """Fit on examples whose label was known at ``trained_until``; held-out recent days pick the threshold.

    ``label_delay_days``: where the examples' terminal/merchant windows ended, recorded in the artifact."""
    rows = list(examples)
    return train_arrays(
        np.asarray([e.vector for e in rows], dtype=np.float64).reshape(len(rows), len(feature_names)),
        np.asarray([e.label for e in rows], dtype=bool),
        np.asarray([e.ts for e in rows], dtype=np.float64),
        np.asarray([e.known_at for e in rows], dtype=np.float64),
        version=version,
        trained_until=trained_until,
        params=params,
        feature_names=feature_names,
        label_delay_days=label_delay_days,
        feature_version=feature_version,
    )


def train_arrays(
    vectors: np.ndarray[Any, Any],
    labels: np.ndarray[Any, Any],
    times: np.ndarray[Any, Any],
    known_at: np.ndarray[Any, Any],
    *,
    version: str,
    trained_until: datetime,
    params: TrainingParams | None = None,
    feature_names: Sequence[str] = FEATURE_NAMES,
    label_delay_days: float | None = None,
    feature_version: int = FEATURE_VERSION,
) -> ModelArtifact:
    """``train_model`` on columns: row i is (vectors[i], labels[i], times[i], known_at[i]), all of
    ``feature_version`` (recorded in the artifact: a worker of another version refuses it)."""
    params = params or TrainingParams()
    cutoff = trained_until.timestamp()
    usable = known_at <= cutoff  # the no-leakage rule: a label known after the cut-off does not exist yet
    order = np.argsort(times[usable], kind="stable")
    x, y = vectors[usable][order], labels[usable][order]
    frauds = int(y.sum())
    if frauds < params.min_frauds or frauds == len(y):
        raise NotEnoughLabelsError(f"{frauds} frauds among {len(y)} labelled examples (need {params.min_frauds})")
    split = int(len(y) * (1 - params.holdout_share))
    held_out = True
    if int(y[split:].sum()) == 0 or int(y[:split].sum()) < params.min_frauds // 2:
        split, held_out = len(y), False  # too few recent frauds to hold out: pick on the fit itself
    document, library, probabilities = _fit(x[:split], y[:split], params)
    check_x, check_y = (x[split:], y[split:]) if held_out else (x, y)
    threshold, metrics = pick_threshold(probabilities(check_x), check_y, params)
    if held_out and params.refit:  # refit on everything, recent days included, keeping the threshold
        document = _fit(x, y, params).document
    metrics.update(examples=float(len(y)), frauds=float(frauds))
    return ModelArtifact(
        version=version,
        created_at=trained_until,
        trained_until=trained_until,
        library=library,
        feature_names=list(feature_names),
        payload=encode_payload(document),
        threshold=threshold,
        metrics=metrics,
        label_delay_days=label_delay_days,
        feature_version=feature_version,
        notes=f"{params.kind}; threshold {_operating_point_words(params)} on the latest "
        f"{params.holdout_share:.0%} of examples"
        if held_out
        else f"{params.kind}; threshold picked on the fit",
    )


def _operating_point_words(params: TrainingParams) -> str:
    if params.operating_point == "best_f1":
        return f"for the best F1 at precision {params.min_precision} or more"
    return f"for precision {params.target_precision}"


def _fit(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], params: TrainingParams) -> Fitted:
    positives = np.flatnonzero(y)
    negatives = np.flatnonzero(~y)
    keep = min(len(negatives), params.negatives_per_fraud * len(positives))
    if keep < len(negatives):
        negatives = np.sort(np.random.default_rng(params.seed).choice(negatives, keep, replace=False))
    # Downsampled negatives shift the log-odds by log(kept share); undo it so probabilities stay true.
    offset = math.log(keep / int((~y).sum())) if keep else 0.0
    rows = np.concatenate([positives, negatives])
    if params.kind == "linear":
        return _fit_linear(x[rows], y[rows].astype(int), offset, params)
    return _fit_trees(x[rows], y[rows].astype(int), offset, params)


def _fit_trees(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], offset: float, params: TrainingParams) -> Fitted:
    import lightgbm  # training only: workers score the exported arrays without it

    booster = lightgbm.train(
        {
            "objective": "binary",
            "learning_rate": params.learning_rate,
            "num_leaves": params.leaves,
            "max_depth": params.depth,
            "max_bin": params.max_bins,
            "min_data_in_leaf": params.min_data_in_leaf,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "seed": params.seed,
            "deterministic": True,
            "num_threads": 1,
            "verbosity": -1,
        },
        lightgbm.Dataset(x, label=y),
        num_boost_round=params.trees,
    )
    leaf_nodes: list[dict[int, int]] = []
    document = _flatten_trees(booster.dump_model(), offset, leaf_nodes)
    # Held-out rows are many (a fifth of all examples, none sampled out): LightGBM finds their leaves in C
    # outside the GIL, then the exported leaf values are summed as detection.model sums them, so the scores
    # and the threshold picked among them are the same bits (a numpy walk of the trees took 1/6 of a fit's time).
    width = max(len(leaves) for leaves in leaf_nodes)
    lookup = np.zeros(len(leaf_nodes) * width, dtype=np.int64)
    for tree, leaves in enumerate(leaf_nodes):
        for leaf, node in leaves.items():
            lookup[tree * width + leaf] = node
    value, base = np.asarray(document["value"], dtype=np.float64), float(document["base"])
    row_offsets = np.arange(len(leaf_nodes)) * width

    def probabilities(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if len(rows) == 0:
            return np.zeros(0)
        leaves = booster.predict(np.ascontiguousarray(rows, dtype=np.float64), pred_leaf=True)
        nodes = np.ascontiguousarray(lookup[row_offsets + np.asarray(leaves, dtype=np.int64)])
        return probabilities_of(base + value[nodes].sum(axis=1))

    return Fitted(document, f"lightgbm {lightgbm.__version__}", probabilities)


def _flatten_trees(
    dump: dict[str, Any], offset: float, leaf_nodes: list[dict[int, int]] | None = None
) -> dict[str, Any]:
    """The booster's trees as the payload's flat arrays (``detection.model.TreeEnsemble``); ``leaf_nodes``, if
    given, gets each tree's LightGBM leaf index -> node number."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []

    def add(node: dict[str, Any]) -> int:
        index = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        if "leaf_value" in node:
            value.append(float(node["leaf_value"]))
            if leaf_nodes is not None:
                leaf_nodes[-1][int(node.get("leaf_index", 0))] = index
            return index
        if node.get("decision_type", "<=") != "<=":
            raise ValueError(f"unsupported split {node.get('decision_type')}")
        value.append(float(node["internal_value"]))
        feature[index] = int(node["split_feature"])
        threshold[index] = float(node["threshold"])
        left[index] = add(node["left_child"])
        right[index] = add(node["right_child"])
        return index

    roots = []
    for tree in dump["tree_info"]:
        if leaf_nodes is not None:
            leaf_nodes.append({})
        roots.append(add(tree["tree_structure"]))
    return {
        "kind": "trees",
        "base": offset,
        "roots": roots,
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "right": right,
        "value": value,
    }


def _fit_linear(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], offset: float, params: TrainingParams) -> Fitted:
    import sklearn
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=1.0, max_iter=500, random_state=params.seed).fit((x - mean) / scale, y)
    document: dict[str, Any] = {
        "kind": "linear",
        "intercept": float(fitted.intercept_[0]) + offset,
        "weights": fitted.coef_[0].tolist(),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
    }
    return Fitted(
        document, f"scikit-learn {sklearn.__version__} LogisticRegression", lambda rows: _probabilities(document, rows)
    )


def _probabilities(document: dict[str, Any], x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """What ``detection.model`` scores for rows of ``x`` with the payload ``document``."""
    names = [f"f{i}" for i in range(x.shape[1])]
    artifact = ModelArtifact(
        version="holdout",
        created_at=datetime.now(UTC),
        trained_until=datetime.now(UTC),
        library="",
        feature_names=names,
        payload=encode_payload(document),
    )
    return np.asarray(load_model(artifact, names, feature_version=None).score_many(x))


def pick_threshold(
    scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], params: TrainingParams
) -> tuple[float, dict[str, float]]:
    """The model's alert threshold on held-out examples, by ``params.operating_point``.

    ``best_f1``: the F1-best cut among those with precision at least ``min_precision``.
    ``precision``: the lowest probability whose alerts reach ``target_precision``.
    Either falls back to the F1-best cut when no cut meets its precision.
    """
    curve = precision_recall_curve(labels, scores)  # one point per distinct score: ties alert together
    precision, recall = curve.precision, curve.recall
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    floor = params.min_precision if params.operating_point == "best_f1" else params.target_precision
    reaching = precision >= floor
    if not reaching.any():
        cut = int(np.argmax(f1))
    elif params.operating_point == "best_f1":
        cut = int(np.argmax(np.where(reaching, f1, -1)))
    else:
        cut = int(np.flatnonzero(reaching)[-1])
    average_precision_holdout = average_precision(labels, scores) or 0.0
    metrics = {
        "holdout_ap": round(average_precision_holdout, 4),
        "holdout_precision": round(float(precision[cut]), 4),
        "holdout_recall": round(float(recall[cut]), 4),
        "holdout_examples": float(len(labels)),
    }
    return float(curve.thresholds[cut]), metrics
