"""The backtest's report on a small seed-42 file of the generator, pinned: a change that moves any figure
the rules decide shows here. Timings are left out; so is ``rules_version``, whose digest also covers
the learning and decision-band settings that a rules-only run does not read.

After a deliberate change (a rule, the generator, a report field), write the file again and say why
in the commit: ``.venv/bin/python -m tests.unit.test_backtest_golden``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from detection.sources import REFERENCE_SOURCES
from producers.generate import write_files
from runtime.backtest import run_backtest

GOLDEN = Path(__file__).with_name("golden") / "backtest-seed42-rules-only.json"
NOT_COMPARED = ("seconds", "throughput_tx_per_s", "rules_version")


def rules_only_report(directory: Path) -> dict[str, Any]:
    """`fraudwatch generate --output-dir D --count 4000 --customers 400 --seed 42`, then
    `fraudwatch backtest D/transactions.jsonl --<every source> --feedback ... --workers 1 --rules-only`."""
    write_files(directory, count=4000, seed=42, customers=400)  # the command's defaults otherwise
    report = run_backtest(
        directory / "transactions.jsonl",
        feedback=directory / "feedback.jsonl",
        reference={source.name: directory / f"{source.name}.jsonl" for source in REFERENCE_SOURCES},
        workers=1,
        show_progress=False,
        learn=False,
    )
    return {key: value for key, value in report.items() if key not in NOT_COMPARED}


def as_text(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def test_the_rules_only_report_on_the_seed_42_file_is_unchanged(tmp_path: Path) -> None:
    report = rules_only_report(tmp_path)
    assert report["alerts"] > 100 and report["frauds"] > 100  # the file exercises the rules
    assert as_text(report) == GOLDEN.read_text(), f"the report moved; if on purpose: python -m {__name__}"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        GOLDEN.write_text(as_text(rules_only_report(Path(scratch))))
    print(f"wrote {GOLDEN}", file=sys.stderr)
