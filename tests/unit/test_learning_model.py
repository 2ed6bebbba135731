"""Training -> artifact -> load -> the same scores; no label from after the cut-off; the model in the score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lightgbm
import numpy as np
import pytest

from config.rules import load_rules
from detection.engine import Detector
from detection.features import FEATURE_NAMES, FEATURE_VERSION
from detection.model import ModelArtifact, ModelCompatibilityError, decode_payload, load_model
from detection.models import BlacklistEntry
from detection.reference import CustomerReference
from detection.state import CustomerState
from detection.training import (
    LabelledExample,
    LoggedDecision,
    NotEnoughLabelsError,
    Outcome,
    TrainingParams,
    label_examples,
    train_model,
    training_start,
)
from tests.unit.detection_fixtures import T0, tx

CONFIG = load_rules()
WIDTH = len(FEATURE_NAMES)
CUTOFF = datetime(2026, 3, 1, tzinfo=UTC)
FAST = TrainingParams(trees=20, min_frauds=10)


def examples(n: int = 3000, seed: int = 3) -> list[LabelledExample]:
    """Fraud when feature 0 is high and feature 5 too: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, WIDTH))
    y = x[:, 0] + x[:, 5] + rng.normal(scale=0.5, size=n) > 2.2
    start = CUTOFF.timestamp() - 30 * 86_400
    times = start + np.sort(rng.uniform(0, 25 * 86_400, size=n))
    return [LabelledExample(x[i].tolist(), bool(y[i]), times[i], times[i] + 3600) for i in range(n)]


@pytest.mark.parametrize("kind", ["trees", "linear"])
def test_artifact_round_trip_scores_the_same_one_by_one_and_in_batch(kind: str) -> None:
    data = examples()
    params = TrainingParams(kind=kind, trees=20, min_frauds=10)  # type: ignore[arg-type]
    artifact = train_model(data, version="v1", trained_until=CUTOFF, params=params)
    restored = ModelArtifact.model_validate_json(artifact.model_dump_json())
    model = load_model(restored)
    vectors = [e.vector for e in data[:300]]
    one_by_one = [model.score(v) for v in vectors]
    assert model.score_many(vectors) == pytest.approx(one_by_one, abs=1e-12)
    assert 0 < artifact.threshold < 1
    assert artifact.metrics["holdout_ap"] > 0.5  # it learned the pattern
    assert model.version == "v1"
    top = model.contributions(vectors[int(np.argmax(one_by_one))], top=2)
    assert {c.name for c in top} <= set(FEATURE_NAMES) and top[0].contribution > 0


def test_exported_trees_match_the_library() -> None:
    """The library-free evaluator gives LightGBM's own raw scores (log-odds) for the same trees."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, WIDTH))
    y = (x[:, 2] - x[:, 7] > 1).astype(int)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 7, "verbosity": -1}, lightgbm.Dataset(x, y), 15)
    from detection.training import _flatten_trees  # the exporter under test

    document = _flatten_trees(booster.dump_model(), 0.0)
    from detection.model import encode_payload

    artifact = ModelArtifact(
        version="lib",
        created_at=CUTOFF,
        trained_until=CUTOFF,
        library="lightgbm",
        feature_names=list(FEATURE_NAMES),
        payload=encode_payload(document),
        feature_version=FEATURE_VERSION,
    )
    ours = np.log(np.asarray(load_model(artifact).score_many(x[:500])))
    ours -= np.log1p(-np.exp(ours))  # back to log-odds
    assert ours == pytest.approx(booster.predict(x[:500], raw_score=True), abs=1e-9)


def test_a_label_known_after_the_cut_off_is_never_used() -> None:
    data = examples()
    late = CUTOFF.timestamp() + 1
    # The same transactions again, labelled the opposite way, with labels known one second too late:
    # were they used, the model (and its payload) would change.
    poisoned = data + [LabelledExample(e.vector, not e.label, e.ts, late) for e in data]
    clean = train_model(data, version="v", trained_until=CUTOFF, params=FAST)
    dirty = train_model(poisoned, version="v", trained_until=CUTOFF, params=FAST)
    assert decode_payload(dirty.payload) == decode_payload(clean.payload)
    assert dirty.metrics == clean.metrics


def test_only_late_frauds_means_no_model() -> None:
    data = [e._replace(known_at=CUTOFF.timestamp() + 60) if e.label else e for e in examples()]
    with pytest.raises(NotEnoughLabelsError):
        train_model(data, version="v", trained_until=CUTOFF, params=FAST)


def test_joining_the_log_with_outcomes_respects_the_cut_off_and_the_reporting_delay() -> None:
    cutoff = CUTOFF.timestamp()
    hour = 3600.0
    logged = [
        LoggedDecision("old-fraud", cutoff - 10 * hour, [1.0]),
        LoggedDecision("late-fraud", cutoff - 9 * hour, [2.0]),  # reported after the cut-off: silent then
        LoggedDecision("old-silent", cutoff - 8 * hour, [3.0]),  # older than the reporting delay: legitimate
        LoggedDecision("new-silent", cutoff - 0.5 * hour, [4.0]),  # could still be reported: left out
    ]
    outcomes = {
        "old-fraud": Outcome(True, cutoff - 8 * hour),  # reported 2 h after the payment
        "late-fraud": Outcome(True, cutoff + hour),
    }
    labelled = {e.vector[0]: e.label for e in label_examples(logged, outcomes, cutoff)}
    # The late fraud is, at the cut-off, a payment older than the reporting delay with no report.
    assert labelled == {1.0: True, 2.0: False, 3.0: False}


def test_an_artifact_needing_an_unknown_feature_is_refused() -> None:
    artifact = train_model(examples(), version="v", trained_until=CUTOFF, params=FAST)
    renamed = artifact.model_copy(update={"feature_names": ["no_such_feature", *artifact.feature_names[1:]]})
    with pytest.raises(ModelCompatibilityError, match="no_such_feature"):
        load_model(renamed)


@pytest.mark.parametrize("version", [FEATURE_VERSION - 1, None])
def test_an_artifact_of_another_feature_version_is_refused(version: int | None) -> None:
    """The same names meant other values before (windows ending at a midnight): a model fitted on them is
    refused with a clear error, not scored with today's values."""
    artifact = train_model(examples(), version="v", trained_until=CUTOFF, params=FAST)
    assert artifact.feature_version == FEATURE_VERSION
    assert load_model(artifact).version == "v"
    older = artifact.model_copy(update={"feature_version": version})
    with pytest.raises(ModelCompatibilityError, match=f"computes feature version {FEATURE_VERSION}: retrain"):
        load_model(older)


def test_an_artifact_finds_its_features_by_name_in_any_order() -> None:
    data = examples()
    artifact = train_model(data, version="v", trained_until=CUTOFF, params=FAST)
    model = load_model(artifact)
    reordered_names = list(reversed(FEATURE_NAMES))
    moved = load_model(artifact, reordered_names)
    vector = list(data[0].vector)
    assert moved.score(list(reversed(vector))) == pytest.approx(model.score(vector))


def detector_with_model() -> Detector:
    artifact = train_model(examples(), version="m1", trained_until=CUTOFF, params=FAST)
    return Detector(CONFIG).with_model(load_model(artifact))


def test_the_model_decides_and_explains_an_alert() -> None:
    detector = detector_with_model()
    assert detector.model is not None
    decision = detector.evaluate(tx(1), CustomerState())
    assert decision.model_version == "m1" and decision.model_probability is not None
    assert decision.model_probability == pytest.approx(detector.model.score(decision.feature_vector))
    assert len(decision.feature_vector) == len(FEATURE_NAMES)
    # The same transaction scored against a model that finds it risky: it alerts with a MODEL reason.
    risky = detector.with_model(
        detector.model.__class__(
            "m2", decision.model_probability * 0.9, detector.model.kind, detector.model.body, detector.model.names
        )
    )
    alerted = risky.evaluate(tx(1), CustomerState())
    assert alerted.alert and alerted.score >= CONFIG.alert_threshold
    model_reason = next(r for r in alerted.reasons if r.code == "MODEL")
    assert "m2" in model_reason.description and model_reason.values["probability"] == pytest.approx(
        decision.model_probability, abs=1e-4
    )


def test_a_blacklisted_customer_alerts_whatever_the_model_says() -> None:
    detector = detector_with_model()
    reference = CustomerReference(
        blacklist=BlacklistEntry(customer_id="C1", reason="fraud ring", listed_at=T0 - timedelta(days=1))
    )
    decision = detector.evaluate(tx(1), CustomerState(), reference=reference)
    assert decision.alert and any(r.code == "BLACKLISTED" for r in decision.reasons)


def test_batch_finish_equals_one_by_one() -> None:
    detector = detector_with_model()
    state_a, state_b = CustomerState(), CustomerState()
    transactions = [tx(n, seconds=n * 30.0, amount=10.0 + 37 * n) for n in range(20)]
    one_by_one = []
    for t in transactions:
        d = detector.evaluate(t, state_a)
        detector.learn(state_a, t, d)
        one_by_one.append(d.risk)
    assessed = []
    for t in transactions:
        d = detector.evaluate(t, state_b, defer_model=True)
        detector.learn(state_b, t, d)
        assessed.append(d)
    detector.finish_many(assessed)
    assert [d.risk for d in assessed] == pytest.approx(one_by_one, abs=1e-9)


def test_training_window_grows_only_where_frauds_are_too_few() -> None:
    cutoff, day = CUTOFF.timestamp(), 86_400.0
    every_hour = [cutoff - h * 3600.0 for h in range(1, 24 * 70)]
    frauds = every_hour[::20]  # 1.2 a day; the 50th newest is 981 hours old: 41 whole days
    assert training_start(frauds, cutoff, 28, 0, 56) == cutoff - 28 * day  # 0: never grows
    assert training_start(frauds, cutoff, 28, 30, 56) == cutoff - 28 * day  # 33 in 28 days: enough
    grown = training_start(frauds, cutoff, 28, 50, 56)
    assert grown == cutoff - 41 * day and sum(t >= grown for t in frauds) >= 50  # whole days, just enough
    assert training_start(frauds, cutoff, 28, 500, 56) == cutoff - 56 * day  # never more than the longest
    assert training_start([cutoff + 10.0] * 100, cutoff, 28, 50, 56) == cutoff - 56 * day  # no later payment counts


def test_the_live_fit_and_the_backtest_learner_train_on_the_same_grown_window() -> None:
    """Both paths call ``training_start``: 60 days of hourly decisions, a fraud in 20 reported a day later."""
    from agents.model_store import TrainingRequest, fit
    from detection.decisions import DecisionRecord
    from detection.features import FEATURE_SET
    from detection.learning import LearningLog, LoggedChunk
    from detection.models import Feedback
    from detection.rules_config import Learning

    cutoff = CUTOFF.timestamp()
    rng = np.random.default_rng(5)
    times = np.array([cutoff - h * 3600.0 for h in range(24 * 60, 0, -1)])
    vectors = rng.normal(size=(len(times), WIDTH))
    fraud = np.arange(len(times)) % 20 == 0
    vectors[fraud, 0] += 3.0
    ids = [f"t{i}" for i in range(len(times))]
    records = [
        DecisionRecord(
            transaction_id=ids[i],
            customer_id="c",
            timestamp=datetime.fromtimestamp(times[i], UTC),
            score=0,
            alert=False,
            rules_version="r",
            feature_set=FEATURE_SET,
            feature_vector=vectors[i].tolist(),
        )
        for i in range(len(times))
    ]
    feedback = [
        Feedback(
            transaction_id=ids[i],
            is_fraud=True,
            known_at=datetime.fromtimestamp(times[i] + 86_400.0, UTC),
            source="chargeback",
            customer_id="c",
        )
        for i in np.flatnonzero(fraud)
    ]
    for min_frauds, days in ((0, 28), (50, 43)):  # 43: the last day's frauds are not reported yet
        request = TrainingRequest(CUTOFF, 28, "v", FAST, min_window_frauds=min_frauds, max_window_days=56)
        live = fit(records, feedback, request)
        learner = LearningLog.of(Learning(train_days=28, train_min_frauds=min_frauds, train_max_days=56), FAST)
        learner.chunks.append(LoggedChunk(ids, times, vectors))
        for item in feedback:
            learner.learn_outcome(item)
        log = learner.labelled(cutoff)
        assert log is not None and log.times.min() >= cutoff - days * 86_400.0 > log.times.min() - 3600.0
        usable = log.known_at <= cutoff
        assert live.metrics["examples"] == usable.sum() and live.metrics["frauds"] == log.labels[usable].sum()
