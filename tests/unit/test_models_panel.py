from __future__ import annotations

from datetime import UTC, datetime

from config.rules import load_rules
from detection.label_delay import LabelDelay
from detection.metrics import MetricsTotals
from detection.model_quality import judged_counters
from detection.models import MetricsSnapshot
from ui.panels.models import ModelsPanel

DAY_S = 86_400.0


def snapshot(
    counters: dict[str, float], models: dict[str, str], label_delay: dict[str, float | int | None] | None = None
) -> MetricsSnapshot:
    return MetricsSnapshot(
        worker="w1",
        interval_start=datetime.now(UTC),
        interval_s=1.0,
        counters=counters,
        models=models,
        label_delay=label_delay or {},
    )


def test_the_panel_shows_champion_and_shadow_quality_and_charts_it_over_time() -> None:
    counters: dict[str, float] = {"shadow_alerts.s1": 7}
    for version, probability, alerted, fraud in [
        ("c1", 0.9, True, True),
        ("c1", 0.7, True, False),
        ("s1", 0.8, True, True),
    ]:
        for name in judged_counters(version, probability, alerted, fraud):
            counters[name] = counters.get(name, 0) + 1
    totals = MetricsTotals()
    totals.add(snapshot(counters, {"champion": "c1", "shadow": "s1"}))
    panel = ModelsPanel(None, None)  # type: ignore[arg-type]
    panel.update(totals, now=1000.0)
    html = panel.table.object
    assert "<b>c1</b>" in html and "<b>s1</b> · 7 would-be alerts" in html
    assert "<td>2</td><td>0.50</td><td>1.00</td>" in html  # c1: judged 2, precision 0.5, recall 1
    panel.update(totals, now=1002.0)  # within the point interval: no new point
    panel.update(totals, now=1006.0)
    assert panel.source.data["champion_precision"] == [0.5, 0.5]
    assert panel.source.data["shadow_ap"] == [1.0, 1.0]


def test_without_a_model_the_rules_are_the_champion_and_no_shadow_is_shown() -> None:
    totals = MetricsTotals()
    totals.add(snapshot({name: 1 for name in judged_counters("rules", 0.6, True, True)}, {}))
    panel = ModelsPanel(None, None)  # type: ignore[arg-type]
    panel.update(totals, now=10.0)
    assert "<b>rules</b>" in panel.table.object and "<td>shadow</td><td colspan='5'>none</td>" in panel.table.object


def test_the_panel_shows_the_label_delay_a_worker_reports_learned_or_prior() -> None:
    learning = load_rules().learning
    delays = LabelDelay()
    start = 1_700_000_000.0
    for _ in range(5):  # fewer than label_delay_min_frauds (20): the rules file's prior still holds
        delays.observe(start, start + 4 * DAY_S)
    totals = MetricsTotals()
    totals.add(snapshot({}, {}, delays.summary(learning)))
    panel = ModelsPanel(None, None)  # type: ignore[arg-type]
    panel.update(totals, now=1.0)
    assert "end <b>7 days</b> back, the rules file's prior" in panel.table.object
    assert "5 so far" in panel.table.object
    for _ in range(30):
        delays.observe(start, start + 4 * DAY_S + 3600)
    totals.add(snapshot({}, {}, delays.summary(learning)))
    panel.update(totals, now=2.0)
    html = panel.table.object
    assert "end <b>4.0417 days</b> back, learned from 35 confirmed frauds" in html  # 4 days and an hour
    assert "median 4.0417" in html


def test_a_worker_snapshot_carries_the_delay_it_decides_with() -> None:
    from agents.activity import label_delay_summary
    from agents.metrics import WorkerMetrics, worker_metrics

    assert worker_metrics.label_delay is label_delay_summary  # the activity agent registered it
    metrics = WorkerMetrics()
    metrics.label_delay = label_delay_summary
    reported = metrics.drain(datetime.now(UTC)).label_delay
    assert reported["label_delay_days"] == load_rules().learning.label_delay_days  # nothing learned yet
    assert reported["frauds_observed"] == 0
