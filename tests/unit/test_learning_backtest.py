"""The backtest learns from its own decisions log and the feedback known at each moment."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import pytest

from config.rules import load_rules
from detection.backtest import Backtest
from detection.engine import Detector
from detection.learning import LearningLog, Submit, learn_in_steps, run_now
from detection.model import ModelArtifact
from detection.models import Feedback, Transaction
from producers.handbook import profile, simulate
from producers.handbook_files import write_handbook_files
from runtime.backtest import run_backtest


@pytest.fixture(scope="module")
def handbook_stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small stream of the Handbook's design: chargebacks name only the transaction and the card."""
    directory = tmp_path_factory.mktemp("handbook")
    scenario = profile("handbook", customers=200, terminals=400, days=30)
    write_handbook_files(simulate(scenario, seed=3), directory, seed=3)
    return directory


def backtest(directory: Path, *, learn: bool, workers: int = 1) -> dict[str, object]:
    return run_backtest(
        directory / "transactions.jsonl",
        feedback=directory / "feedback.jsonl",
        workers=workers,
        show_progress=False,
        learn=learn,
    )


@pytest.fixture(scope="module")
def learned(handbook_stream: Path) -> dict[str, object]:
    return backtest(handbook_stream, learn=True)


def test_retraining_from_feedback_beats_the_rules_alone(handbook_stream: Path, learned: dict[str, object]) -> None:
    rules = backtest(handbook_stream, learn=False)
    assert learned["models_trained"] > 0  # type: ignore[operator]
    last = learned["last_model"]
    assert isinstance(last, dict) and last["metrics"]["frauds"] >= 20
    # The rules barely see this design's frauds; the model learned from chargebacks does.
    assert learned["f1"] > 3 * rules["f1"]  # type: ignore[operator]
    assert learned["recall"] > 0.3 and learned["precision"] > 0.5  # type: ignore[operator]
    # Where the time went: each fit within the run (two may run at once, so their sum need not be).
    fits: list[float] = learned["fit_seconds"]  # type: ignore[assignment]
    assert len(fits) >= learned["models_trained"] and 0 < max(fits) < learned["seconds"]  # type: ignore[operator]
    assert learned["retrain_seconds"] == pytest.approx(sum(fits), abs=0.01)


def test_learning_result_does_not_depend_on_the_number_of_shards(
    handbook_stream: Path, learned: dict[str, object]
) -> None:
    one = learned
    two = backtest(handbook_stream, learn=True, workers=2)
    timings = ("seconds", "throughput_tx_per_s", "workers", "model_scoring_us_per_tx", "retrain_seconds", "fit_seconds")
    different = [k for k in one if k not in timings and one[k] != two[k]]
    assert different == []


class _Deferred(Future[ModelArtifact | None]):
    """A fit that runs only when its result is asked for: never done before, so fits pile up in flight."""

    def __init__(self, fit: Callable[[], ModelArtifact | None]) -> None:
        super().__init__()
        self._fit = fit

    def result(self, timeout: float | None = None) -> ModelArtifact | None:
        if not self.done():
            self.set_result(self._fit())
        return super().result(timeout)


def test_fits_in_flight_score_every_decision_with_the_model_of_its_day(tmp_path: Path) -> None:
    scenario = profile("handbook", customers=200, terminals=400, days=20)
    write_handbook_files(simulate(scenario, seed=5), tmp_path, seed=5)
    transactions = sorted(
        (Transaction.model_validate_json(line) for line in (tmp_path / "transactions.jsonl").read_bytes().splitlines()),
        key=lambda t: t.timestamp,
    )
    feedback = [Feedback.model_validate_json(line) for line in (tmp_path / "feedback.jsonl").read_bytes().splitlines()]
    config = load_rules(None)

    def decide(submit: Submit, fits_in_flight: int) -> tuple[list[tuple[str, int, float, str | None]], list[str]]:
        backtest, learner = Backtest(Detector(config)), LearningLog.of(config.learning)
        decided: list[tuple[str, int, float, str | None]] = []
        backtest.begin(
            transactions, feedback, lambda t, d: decided.append((t.transaction_id, d.score, d.risk, d.model_version))
        )
        learn_in_steps(
            learner, feedback, lambda until: [backtest.advance(until)], backtest.update, submit, fits_in_flight
        )
        return decided, [model.version for model in learner.models]

    at_once, models = decide(run_now, 1)
    assert len(models) >= 3 and len(at_once) == len(transactions)
    assert decide(_Deferred, 2) == (at_once, models)  # two fits pending at a time, delivered late, in order
    assert decide(_Deferred, 1) == (at_once, models)
