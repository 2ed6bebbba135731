"""A fraud model as data: the versioned artifact (value of the models topic) and its pure scorer.

The payload is library-independent: a tree ensemble (exported from the trainer's boosted trees)
or a linear model, as arrays in compressed JSON. Workers score it with this module alone, no
training library, no I/O; the backtest scores a whole batch at once with numpy.

Contributions explain one score: for trees, each split on the transaction's path moves the
expected log-odds from the node to the child taken, and that move is credited to the split's
feature (Saabas); for a linear model, a feature's weight times its standardized value.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from detection.features import FEATURE_NAMES, FEATURE_VERSION


class ModelArtifact(BaseModel):
    """A trained model (topic fraudwatch.models, compacted, keyed by version)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str = Field(min_length=1, max_length=128)
    created_at: AwareDatetime = Field(description="When it was trained (event time in a backtest).")
    trained_until: AwareDatetime = Field(description="The label cut-off: no label known after it was used.")
    library: str = Field(description="What fitted it, e.g. 'lightgbm 4.7.0'.")
    feature_names: list[str] = Field(description="The names of the inputs, in the payload's order.")
    payload: str = Field(description="The model: base64 of zlib-compressed JSON (trees or linear).")
    threshold: float = Field(
        0.5, ge=0, le=1, description="Probability at and above which the model alone alerts (picked on held-out days)."
    )
    metrics: dict[str, float] = Field(default_factory=dict, description="Held-out figures: ap, auc, precision, ...")
    label_delay_days: float | None = Field(
        None,
        description="Where terminal/merchant risk windows ended at training time: days (to the hour) before the "
        "hour scored.",
    )
    feature_version: int | None = Field(
        None,
        description="detection.features.FEATURE_VERSION of the decisions it was fitted on; a worker scores it only "
        "with the same version. None: fitted before versions were recorded (refused).",
    )
    notes: str | None = None


class ModelCompatibilityError(ValueError):
    """The artifact needs a feature this code does not compute, was fitted on another feature version, or its
    payload is not a model."""


class Contribution(NamedTuple):
    """How much one feature moved a score (log-odds), and the feature's value."""

    name: str
    value: float
    contribution: float


def encode_payload(document: dict[str, Any]) -> str:
    return base64.b64encode(zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)).decode()


def decode_payload(payload: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(payload, validate=True)))
    except (ValueError, zlib.error) as exc:
        raise ModelCompatibilityError(f"model payload is not base64 zlib JSON: {exc}") from exc
    return document


#: Rows a tree ensemble steps through its trees together (``TreeEnsemble.raw_many``).
SCORING_ROWS = 512


class _SelfLooping(NamedTuple):
    """The ensemble as numpy arrays for batches; a leaf loops to itself (feature 0, threshold +inf)."""

    feature: np.ndarray[Any, Any]
    threshold: np.ndarray[Any, Any]
    #: child of node n: [2n] when its test fails (right), [2n + 1] when it holds (left)
    children: np.ndarray[Any, Any]
    value: np.ndarray[Any, Any]
    #: the roots, deepest tree first, and how many of those trees still step at each level
    roots: np.ndarray[Any, Any]
    stepping: tuple[int, ...]
    #: position in ``roots`` of each tree of the ensemble's order (the sum of leaf values keeps that order)
    restore: np.ndarray[Any, Any]


@dataclass(frozen=True, slots=True)
class TreeEnsemble:
    """Boosted trees, all nodes in flat arrays; a leaf has feature -1. Decision: x <= threshold goes left."""

    base: float
    roots: tuple[int, ...]
    feature: tuple[int, ...]  # index into the scored vector (remapped at load)
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]  # leaf value, or an internal node's expected value
    looping: _SelfLooping  # the same as numpy arrays for batches (see ``raw_many``)

    @classmethod
    def build(
        cls,
        base: float,
        roots: Sequence[int],
        feature: Sequence[int],
        threshold: Sequence[float],
        left: Sequence[int],
        right: Sequence[int],
        value: Sequence[float],
    ) -> TreeEnsemble:
        return cls(
            base,
            tuple(roots),
            tuple(feature),
            tuple(threshold),
            tuple(left),
            tuple(right),
            tuple(value),
            _self_looping(roots, feature, threshold, left, right, value),
        )

    def raw(self, x: Sequence[float]) -> float:
        feature, threshold, left, right, value = self.feature, self.threshold, self.left, self.right, self.value
        total = self.base
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                node = left[node] if x[f] <= threshold[node] else right[node]
                f = feature[node]
            total += value[node]
        return total

    def raw_many(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # ``SCORING_ROWS`` rows at a time: a whole batch's (rows x trees) index arrays outgrow the CPU's cache, and
        # stepping them took twice as long per row (bench/RESULTS.md, session 10). A row's score does not depend
        # on the rows beside it, so the split changes no bit.
        matrix = np.ascontiguousarray(x, dtype=np.float64)
        rows = matrix.shape[0]
        if rows <= SCORING_ROWS:
            return self._raw_rows(matrix)
        result = np.empty(rows, dtype=np.float64)
        for start in range(0, rows, SCORING_ROWS):
            result[start : start + SCORING_ROWS] = self._raw_rows(matrix[start : start + SCORING_ROWS])
        return result

    def _raw_rows(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # All rows step down one level at a time in every tree still deeper than the level (the deepest trees
        # first, so those are a prefix): five gathers a step and no masking; a shallow tree stops early.
        loop = self.looping
        width = x.shape[1]
        flat = x.ravel()
        offsets = (np.arange(x.shape[0]) * width)[:, None]
        node = np.tile(loop.roots, (x.shape[0], 1))
        for trees in loop.stepping:
            at = node[:, :trees]
            holds = flat[offsets + loop.feature[at]] <= loop.threshold[at]
            node[:, :trees] = loop.children[2 * at + holds]
        # Leaf values summed in the ensemble's tree order, over a contiguous row: the same float sum as one by one
        # in numpy's pairwise order, whatever the stepping order.
        leaves = np.ascontiguousarray(node[:, loop.restore])
        result: np.ndarray[Any, Any] = self.base + loop.value[leaves].sum(axis=1)
        return result

    def contributions(self, x: Sequence[float]) -> dict[int, float]:
        # The arrays as locals: an alert's reasons walk every tree once (attribute lookups were half its time).
        feature, threshold, left, right, value = self.feature, self.threshold, self.left, self.right, self.value
        credit: dict[int, float] = {}
        get = credit.get
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                child = left[node] if x[f] <= threshold[node] else right[node]
                credit[f] = get(f, 0.0) + value[child] - value[node]
                node, f = child, feature[child]
        return credit


def _self_looping(
    roots: Sequence[int],
    feature: Sequence[int],
    threshold: Sequence[float],
    left: Sequence[int],
    right: Sequence[int],
    value: Sequence[float],
) -> _SelfLooping:
    """The ensemble's arrays with leaves as self-loops, its trees deepest first, and their depths."""
    leaf = np.asarray(feature) < 0
    index = np.arange(len(feature))
    depths = []
    for root in roots:
        depth = 0
        stack = [(root, 0)]
        while stack:
            node, level = stack.pop()
            if feature[node] < 0:
                depth = max(depth, level)
            else:
                stack += [(left[node], level + 1), (right[node], level + 1)]
        depths.append(depth)
    order = np.argsort(-np.asarray(depths, dtype=np.int64), kind="stable")
    by_depth = np.asarray(depths, dtype=np.int64)[order]
    children = np.stack([np.where(leaf, index, right), np.where(leaf, index, left)], axis=1).ravel()
    return _SelfLooping(
        np.where(leaf, 0, feature),
        np.where(leaf, np.inf, threshold),
        children,
        np.asarray(value, dtype=np.float64),
        np.asarray(roots, dtype=np.int64)[order],
        tuple(int((by_depth > level).sum()) for level in range(int(by_depth.max(initial=0)))),
        np.argsort(order),
    )


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Logistic regression on standardized inputs: log-odds = intercept + sum(w * (x - mean) / scale)."""

    intercept: float
    features: tuple[int, ...]
    weights: tuple[float, ...]  # already divided by scale
    means: tuple[float, ...]

    def raw(self, x: Sequence[float]) -> float:
        total = self.intercept
        for f, w, m in zip(self.features, self.weights, self.means, strict=True):
            total += w * (x[f] - m)
        return total

    def raw_many(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        centred = x[:, list(self.features)] - np.asarray(self.means)
        result: np.ndarray[Any, Any] = self.intercept + centred @ np.asarray(self.weights)
        return result

    def contributions(self, x: Sequence[float]) -> dict[int, float]:
        return {f: w * (x[f] - m) for f, w, m in zip(self.features, self.weights, self.means, strict=True)}


def probabilities_of(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Log-odds to probabilities, for a batch."""
    clipped = np.clip(raw, -500, 500)
    result: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-clipped))
    return result


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class FraudModel:
    """A loaded model: immutable, pure; scores vectors aligned with ``detection.features.FEATURE_NAMES``."""

    version: str
    threshold: float
    kind: Literal["trees", "linear"]
    body: TreeEnsemble | LinearModel
    names: tuple[str, ...]  # of the scored vector (FEATURE_NAMES when loaded)

    def score(self, vector: Sequence[float]) -> float:
        """Probability of fraud."""
        return _sigmoid(self.body.raw(vector))

    def score_many(self, vectors: Sequence[Sequence[float]] | np.ndarray[Any, Any]) -> list[float]:
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.size == 0:
            return []
        probabilities: list[float] = probabilities_of(self.body.raw_many(matrix.reshape(len(matrix), -1))).tolist()
        return probabilities

    def contributions(self, vector: Sequence[float], top: int = 3) -> list[Contribution]:
        """The ``top`` features that raised this score most (log-odds), with their values."""
        credit = self.body.contributions(vector)
        ranked = sorted(((c, f) for f, c in credit.items() if c > 0), reverse=True)[:top]
        return [Contribution(self.names[f], float(vector[f]), c) for c, f in ranked]


def check_feature_version(artifact: ModelArtifact, feature_version: int = FEATURE_VERSION) -> None:
    """Raise ModelCompatibilityError unless the artifact was fitted on ``feature_version``."""
    if artifact.feature_version != feature_version:
        fitted = "an unrecorded feature version"
        if artifact.feature_version is not None:
            fitted = f"feature version {artifact.feature_version}"
        raise ModelCompatibilityError(
            f"model {artifact.version} was fitted on {fitted}, this code computes feature version "
            f"{feature_version}: retrain it on decisions of version {feature_version}"
        )


def load_model(
    artifact: ModelArtifact,
    feature_names: Sequence[str] = FEATURE_NAMES,
    feature_version: int | None = FEATURE_VERSION,
) -> FraudModel:
    """Build the scorer; the artifact's inputs are found by name in ``feature_names`` (order may differ).

    The same name may mean another value in another feature version (a window ending elsewhere): a model
    fitted on ``artifact.feature_version`` is refused unless that is ``feature_version`` (None: no check,
    for a model of arbitrary columns)."""
    if feature_version is not None:
        check_feature_version(artifact, feature_version)
    position = {name: index for index, name in enumerate(feature_names)}
    missing = [name for name in artifact.feature_names if name not in position]
    if missing:
        raise ModelCompatibilityError(f"model {artifact.version} needs features this code lacks: {missing}")
    remap = [position[name] for name in artifact.feature_names]
    document = decode_payload(artifact.payload)
    body: TreeEnsemble | LinearModel
    try:
        if document["kind"] == "trees":
            body = TreeEnsemble.build(
                float(document["base"]),
                [int(r) for r in document["roots"]],
                [remap[f] if f >= 0 else -1 for f in document["feature"]],
                [float(t) for t in document["threshold"]],
                [int(n) for n in document["left"]],
                [int(n) for n in document["right"]],
                [float(v) for v in document["value"]],
            )
        elif document["kind"] == "linear":
            scale = document["scale"]
            body = LinearModel(
                intercept=float(document["intercept"]),
                features=tuple(remap),
                weights=tuple(w / s for w, s in zip(document["weights"], scale, strict=True)),
                means=tuple(document["mean"]),
            )
        else:
            raise ModelCompatibilityError(f"model {artifact.version}: unknown kind {document['kind']!r}")
    except (KeyError, TypeError, IndexError) as exc:
        raise ModelCompatibilityError(f"model {artifact.version}: malformed payload ({exc!r})") from exc
    return FraudModel(artifact.version, artifact.threshold, document["kind"], body, tuple(feature_names))
