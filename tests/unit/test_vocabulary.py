"""One vocabulary: severities, rule codes and metric names come from one definition each."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from config.rules import load_rules
from detection.metrics import (
    AMOUNT_AT_RISK_EUR,
    TRANSACTIONS_SCORED,
    Family,
    MetricsTotals,
    Outcome,
    counter,
    decision_counters,
)
from detection.models import MetricsSnapshot, Severity
from detection.rules import RULES, RuleCode
from tests.alerts_fixture import alerting_decision
from ui.panels.alerts import RULE_CHOICES, SEVERITIES


def test_severities_are_ordered_and_the_dashboard_lists_them_most_severe_first() -> None:
    assert [s.rank for s in Severity] == [0, 1, 2, 3]
    assert Severity.LOW.rank < Severity.MEDIUM.rank < Severity.HIGH.rank < Severity.CRITICAL.rank
    assert SEVERITIES == ["critical", "high", "medium", "low"]


def test_every_rule_has_one_code_its_rules_file_table_and_a_dashboard_filter() -> None:
    config = load_rules(environ={})
    assert {code.setting for code in RuleCode} == set(RULES) == {name for name, _ in config.rules}
    assert RULE_CHOICES[1:] == [code.value for code in RuleCode]


def test_an_alert_counts_under_the_families_the_dashboard_reads() -> None:
    transaction, decision, _ = alerting_decision(1)
    names = dict(decision_counters(transaction, decision))
    assert names[counter(Family.ALERTS_SEVERITY, decision.severity)] == 1
    assert all(names[counter(Family.ALERTS_RULE, reason.code)] == 1 for reason in decision.reasons)
    assert names[TRANSACTIONS_SCORED] == 1 and names[AMOUNT_AT_RISK_EUR] == 5000.0
    totals = MetricsTotals()
    totals.add(MetricsSnapshot(worker="w", interval_start=datetime.now(UTC), interval_s=1, counters=names))
    assert totals.family(Family.ALERTS_SEVERITY) == {decision.severity.value: 1}


def test_quality_counts_come_from_confirmed_outcomes() -> None:
    totals = MetricsTotals()
    outcomes = {Outcome.of(True, True): 3, Outcome.of(True, False): 1, Outcome.of(False, True): 1}
    totals.add(
        MetricsSnapshot(
            worker="w",
            interval_start=datetime.now(UTC),
            interval_s=1,
            counters={counter(Family.QUALITY, outcome): n for outcome, n in outcomes.items()},
        )
    )
    quality = totals.quality()
    assert (quality.precision, quality.recall) == (0.75, 0.75)


def _metric_names_written_out(path: Path) -> list[str]:
    """``incr("a.b")``, ``incr(f"a.{b}")`` or ``counter(Family.X, "b")`` in one module: a name spelled in place."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        spelled = {"incr": node.args[:1], "counter": node.args[1:2]}.get(called, [])
        if any(
            isinstance(arg, ast.JoinedStr) or (isinstance(arg, ast.Constant) and isinstance(arg.value, str))
            for arg in spelled
        ):
            found.append(f"{path}:{node.lineno}")
    return found


def test_the_shell_counts_only_under_names_from_detection_metrics() -> None:
    root = Path(__file__).resolve().parents[2]
    modules = [
        path for layer in ("agents", "ui", "runtime", "producers", "tables") for path in (root / layer).rglob("*.py")
    ]
    assert modules
    assert [place for path in modules for place in _metric_names_written_out(path)] == []
