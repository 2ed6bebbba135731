"""The backtest learns from its own decisions log and the feedback known at each moment."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert 0 < learned["retrain_seconds"] < learned["seconds"]  # type: ignore[operator]  # where the time went


def test_learning_result_does_not_depend_on_the_number_of_shards(
    handbook_stream: Path, learned: dict[str, object]
) -> None:
    one = learned
    two = backtest(handbook_stream, learn=True, workers=2)
    timings = ("seconds", "throughput_tx_per_s", "workers", "model_scoring_us_per_tx", "retrain_seconds", "fit_seconds")
    different = [k for k in one if k not in timings and one[k] != two[k]]
    assert different == []
