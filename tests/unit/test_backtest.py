from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.rules import load_rules
from detection.backtest import Backtest
from detection.engine import Detector
from detection.models import Feedback
from detection.reference import terminal_key
from producers.generate import write_files
from runtime.backtest import run_backtest
from tests.unit.detection_fixtures import T0, tx

REPORT_KEYS = {
    "transactions",
    "alerts",
    "precision",
    "recall",
    "f1",
    "alerts_per_1000",
    "card_precision_at_100",
    "per_rule",
    "throughput_tx_per_s",
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dataset")
    write_files(
        directory,
        count=6000,
        rate=None,
        seed=5,
        customers=300,
        merchants=60,
        fraud_rate=0.03,
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return directory


def backtest(directory: Path, workers: int) -> dict[str, object]:
    return run_backtest(
        directory / "transactions.jsonl",
        customers=directory / "customers.jsonl",
        blacklist=directory / "blacklist.jsonl",
        credit_scores=directory / "credit_scores.jsonl",
        fraud_reports=directory / "fraud_reports.jsonl",
        feedback=directory / "feedback.jsonl",
        workers=workers,
        show_progress=False,
    )


def test_report_has_every_figure_and_finds_fraud(dataset: Path) -> None:
    report = backtest(dataset, workers=1)
    assert set(report) >= REPORT_KEYS
    assert report["transactions"] == 6000
    assert 0.3 < report["precision"] <= 1 and 0.5 < report["recall"] <= 1  # type: ignore[operator]
    per_rule = report["per_rule"]
    assert isinstance(per_rule, dict) and {"VELOCITY", "CARD_TESTING", "UNUSUAL_LOCATION"} <= set(per_rule)
    assert all({"alerts", "precision", "recall"} == set(v) for v in per_rule.values())


def test_sharded_run_equals_single_process_run(dataset: Path) -> None:
    single, sharded = backtest(dataset, workers=1), backtest(dataset, workers=3)
    timings = ("seconds", "throughput_tx_per_s", "workers", "model_scoring_us_per_tx", "retrain_seconds", "fit_seconds")
    for timing in timings:
        single.pop(timing), sharded.pop(timing)
    assert json.dumps(single, sort_keys=True) == json.dumps(sharded, sort_keys=True)


def test_feedback_takes_effect_only_once_event_time_reaches_known_at() -> None:
    run = Backtest(Detector(load_rules(environ={})))
    frauds = [
        Feedback(
            transaction_id=f"X{i}",
            is_fraud=True,
            known_at=T0 + timedelta(hours=1),
            customer_id=f"V{i}",
            merchant_id="M1",
            terminal_id="M1-T0",
        )
        for i in range(3)
    ]
    decisions = []
    run.run([tx(1, 0), tx(2, 3599), tx(3, 3600)], frauds, lambda _t, d: decisions.append(d))
    assert [d.features.terminal_frauds for d in decisions] == [0, 0, 3]
    assert "RISKY_MERCHANT" in {r.code for r in decisions[-1].reasons}
    run.apply_feedback(frauds[0])  # a replayed record counts once
    assert len(run.merchant_risk[terminal_key("M1-T0")].confirmed_frauds) == 3


def test_a_bad_input_line_is_counted_by_reason_with_file_and_line_and_the_run_finishes(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(tx(1).model_dump_json() + "\n" + '{"customer_id": "C1", "amount": "x"}\n')
    report = run_backtest(path, workers=1, show_progress=False)
    assert report["transactions"] == 1 and report["rejected"] == 1
    assert report["rejected_by_reason"] == {"transactions": {"missing_field": 1}}
    assert report["rejected_lines"][0].startswith("t.jsonl:2: missing_field: ")  # type: ignore[index]
