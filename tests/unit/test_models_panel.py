from __future__ import annotations

from datetime import UTC, datetime

from detection.metrics import MetricsTotals
from detection.model_quality import judged_counters
from detection.models import MetricsSnapshot
from ui.panels.models import ModelsPanel


def snapshot(counters: dict[str, float], models: dict[str, str]) -> MetricsSnapshot:
    return MetricsSnapshot(
        worker="w1", interval_start=datetime.now(UTC), interval_s=1.0, counters=counters, models=models
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
