"""The models panel: champion and shadow precision, recall and average precision from feedback, over time.

Workers count, per model version, how its decisions on judged transactions turned out
(detection.model_quality); the panel sums every worker's counters and reads which version is
champion and which is shadow from the latest metrics snapshot. The feature contributions of an
alert are in its MODEL reason, shown with the alert's other reasons when it is selected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource

from config import Settings
from detection.metrics import Family, MetricsTotals
from detection.model_quality import FAMILY, RULES_ONLY, ModelQuality, model_qualities
from ui.charts import line_chart
from ui.feed import DashboardFeed
from ui.panels import Tick

#: Seconds between two points of the quality-over-time chart.
POINT_EVERY_S = 5.0
ROLES = ("champion", "shadow")
SERIES = ("precision", "recall", "ap")


def quality_points(quality: ModelQuality | None) -> dict[str, float]:
    if quality is None:
        return {name: float("nan") for name in SERIES}
    return {"precision": quality.quality.precision, "recall": quality.quality.recall, "ap": quality.average_precision}


def label_delay_words(summary: dict[str, float | int | None]) -> str:
    """Where the terminal/merchant risk windows end and why: learned from confirmed frauds, or the prior."""
    days = summary.get("label_delay_days")
    if days is None:
        return "Label delay: not reported yet."
    frauds = int(summary.get("frauds_observed") or 0)
    learned = summary.get("learned_days")
    if learned is not None and frauds >= int(summary.get("min_frauds") or 0):
        return (
            f"Label delay: risk windows end <b>{days:g} days</b> back, learned from {frauds:,} confirmed frauds "
            f"(their {float(summary.get('quantile') or 0):.0%} delay quantile, to the hour: {learned:g} days; "
            f"median {summary.get('median_days')})."
        )
    return (
        f"Label delay: risk windows end <b>{days:g} days</b> back, the rules file's prior "
        f"(learned once {summary.get('min_frauds')} confirmed frauds were seen; {frauds:,} so far)."
    )


def models_table(
    roles: dict[str, str],
    qualities: dict[str, ModelQuality],
    shadow_alerts: dict[str, float],
    label_delay: dict[str, float | int | None] | None = None,
) -> str:
    rows = []
    for role in ROLES:
        version = roles.get(role) or (RULES_ONLY if role == "champion" else None)
        if version is None:
            rows.append(f"<tr><td>{role}</td><td colspan='5'>none</td></tr>")
            continue
        quality = qualities.get(version)
        judged = quality.judged if quality else 0
        p, r, ap = (f"{v:.2f}" if judged else "-" for v in quality_points(quality).values())
        extra = f" · {shadow_alerts.get(version, 0):,.0f} would-be alerts" if role == "shadow" else ""
        rows.append(
            f"<tr id='model-{role}'><td>{role}</td><td><b>{version}</b>{extra}</td><td>{judged:,}</td>"
            f"<td>{p}</td><td>{r}</td><td>{ap}</td></tr>"
        )
    head = "<tr><th>role</th><th>version</th><th>judged</th><th>precision</th><th>recall</th><th>AP</th></tr>"
    return (
        "<table id='models' style='font-family:sans-serif;font-size:13px;border-collapse:collapse' cellpadding='4'>"
        f"{head}{''.join(rows)}</table>"
        f"<p id='label-delay' style='font-family:sans-serif;font-size:13px;margin:4px'>"
        f"{label_delay_words(label_delay or {})}</p>"
    )


class ModelsPanel:
    """Champion and shadow: versions, quality from feedback now, and over time."""

    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.table = pn.pane.HTML(models_table({}, {}, {}), sizing_mode="stretch_width")
        columns = ["time"] + [f"{role}_{name}" for role in ROLES for name in SERIES]
        self.source = ColumnDataSource({name: [] for name in columns})
        colours = {"precision": "#2563eb", "recall": "#dc2626", "ap": "#059669"}
        self.charts = [
            line_chart(
                f"{role.capitalize()} model quality from feedback",
                self.source,
                [(f"{role}_{name}", name, colours[name]) for name in SERIES],
                "0-1",
            )
            for role in ROLES
        ]
        self.last_point = 0.0

    def view(self) -> Any:
        return pn.Column(
            pn.pane.HTML("<h3 style='font-family:sans-serif;margin:4px 0'>Models</h3>"),
            self.table,
            pn.Row(*[pn.pane.Bokeh(chart, sizing_mode="stretch_width") for chart in self.charts]),
            sizing_mode="stretch_width",
        )

    def refresh(self, tick: Tick) -> None:
        self.update(tick.totals, tick.now)

    def update(self, totals: MetricsTotals, now: float) -> None:
        last = totals.last
        roles = last.models if last is not None else {}
        qualities = model_qualities(totals.family(FAMILY))
        label_delay = last.label_delay if last is not None else {}
        self.table.object = models_table(roles, qualities, totals.family(Family.SHADOW_ALERTS), label_delay)
        if now - self.last_point < POINT_EVERY_S or not qualities:
            return
        self.last_point = now
        point: dict[str, Any] = {"time": [datetime.fromtimestamp(now, UTC)]}
        for role in ROLES:
            version = roles.get(role) or (RULES_ONLY if role == "champion" else None)
            for name, value in quality_points(qualities.get(version) if version else None).items():
                point[f"{role}_{name}"] = [value]
        self.source.stream(point, rollover=720)
