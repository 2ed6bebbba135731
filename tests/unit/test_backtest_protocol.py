"""The backtest as the field runs it: a test period, a decisions file, bad lines, failing shards."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detection.backtest import Backtest
from detection.engine import Decision
from detection.models import Transaction
from producers.handbook import HandbookScenario, simulate
from producers.handbook_files import write_handbook_files
from runtime.backtest import ShardFailedError, run_backtest

REPO = Path(__file__).resolve().parents[2]
TEST_START = datetime(2018, 4, 15, tzinfo=UTC)
#: A transaction the tests make a shard fail on (any id of the data set works).
FAILING_ID = "HB000000100"


@pytest.fixture(scope="module")
def handbook_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("handbook")
    write_handbook_files(simulate(HandbookScenario(customers=150, terminals=300, days=25), 11), directory, seed=11)
    return directory


def with_bad_lines(directory: Path, tmp_path: Path) -> Path:
    lines = (directory / "transactions.jsonl").read_text().splitlines()
    zero_amount = json.loads(lines[10]) | {"amount": 0.0}
    lines[10:10] = [json.dumps(zero_amount), "not json at all", '{"transaction_id": "X"}']
    lines.insert(500, json.dumps(json.loads(lines[500]) | {"currency": "XYZ"}))
    path = tmp_path / "with-bad-lines.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_lines_are_counted_by_reason_and_skipped(handbook_files: Path, tmp_path: Path, workers: int) -> None:
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text((handbook_files / "feedback.jsonl").read_text() + '{"transaction_id": "T1"}\n')
    report = run_backtest(
        with_bad_lines(handbook_files, tmp_path), feedback=feedback, workers=workers, show_progress=False
    )
    clean = run_backtest(handbook_files / "transactions.jsonl", workers=workers, show_progress=False)
    assert report["transactions"] == clean["transactions"]
    assert report["rejected"] == 5
    assert report["rejected_by_reason"] == {
        "transactions": {"schema": 1, "not_json": 1, "missing_field": 1, "unknown_currency": 1},
        "feedback": {"schema": 1},
    }
    lines = report["rejected_lines"]
    assert isinstance(lines, list) and lines[0] == "feedback.jsonl:" + str(len(feedback.read_text().splitlines())) + (
        ": schema: is_fraud: Field required; known_at: Field required; customer_id: Field required"
    )
    assert lines[1].startswith("with-bad-lines.jsonl:11: schema: amount: Input should be greater than 0")


def test_the_report_and_decisions_cover_the_test_period_only(handbook_files: Path, tmp_path: Path) -> None:
    decisions = tmp_path / "out" / "decisions.jsonl"
    report = run_backtest(
        handbook_files / "transactions.jsonl",
        feedback=handbook_files / "feedback.jsonl",
        workers=2,
        show_progress=False,
        test_start=TEST_START,
        decisions=decisions,
    )
    in_period = [
        t
        for t in map(Transaction.model_validate_json, (handbook_files / "transactions.jsonl").read_text().splitlines())
        if t.timestamp >= TEST_START
    ]
    assert report["transactions"] == len(in_period) and report["frauds"] == sum(bool(t.is_fraud) for t in in_period)
    assert report["test_period"] == {"start": TEST_START.timestamp(), "end": None, "days": 11}
    assert 0.5 < report["auc_roc"] <= 1  # type: ignore[operator]
    assert set(report["per_pattern"]) == {t.fraud_pattern for t in in_period if t.is_fraud}  # type: ignore[arg-type]
    rows = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert report["decisions"] == {"path": str(decisions), "records": len(in_period)}
    assert {row["transaction_id"] for row in rows} == {t.transaction_id for t in in_period}
    assert [row["timestamp"] for row in rows] == sorted(row["timestamp"] for row in rows)
    assert set(rows[0]) == {
        "timestamp",
        "transaction_id",
        "customer_id",
        "score",
        "risk",
        "alert",
        "reasons",
        "model_version",
        "is_fraud",
    }
    assert sum(row["alert"] for row in rows) == report["alerts"]
    assert not list(decisions.parent.glob(".decisions.jsonl.part*"))


def fail_on(failure: str) -> None:
    """Make Backtest.process fail on FAILING_ID (forked shards inherit the patched class)."""
    original = Backtest.process

    def process(self: Backtest, transaction: Transaction) -> Decision:
        if transaction.transaction_id == FAILING_ID:
            if failure == "exit":
                import os

                os._exit(7)
            raise RuntimeError("simulated defect\nover two lines")
        return original(self, transaction)

    Backtest.process = process  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("failure", "why"), [("raise", "RuntimeError: simulated defect over two lines"), ("exit", "exit code 7")]
)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_shard_ends_the_run_with_one_line(
    handbook_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, why: str, workers: int
) -> None:
    if failure == "exit" and workers == 1:
        pytest.skip("one worker runs in this process: an exit there is the run's own exit")
    monkeypatch.setattr(Backtest, "process", Backtest.process)  # restored after the test
    fail_on(failure)
    decisions = tmp_path / "decisions.jsonl"
    with pytest.raises(ShardFailedError) as failed:
        run_backtest(handbook_files / "transactions.jsonl", workers=workers, show_progress=False, decisions=decisions)
    message = str(failed.value)
    assert "\n" not in message and message.startswith("backtest shard ") and why in message
    assert not list(tmp_path.glob(".decisions.jsonl.part*"))


def test_the_command_prints_one_line_and_exits_non_zero_when_a_shard_fails(
    handbook_files: Path, tmp_path: Path
) -> None:
    script = (
        "import sys; from tests.unit.test_backtest_protocol import fail_on; fail_on('raise');"
        "from runtime.cli import main; main(sys.argv)"
    )
    command = [sys.executable, "-c", script, "backtest", str(handbook_files / "transactions.jsonl")]
    done = subprocess.run(
        [*command, "--report", str(tmp_path / "r.json"), "--workers", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.splitlines()
    assert (
        line.startswith("fraudwatch backtest: backtest shard ")
        and "RuntimeError: simulated defect over two lines" in line
    )
    assert not (tmp_path / "r.json").exists()
