"""Headline numbers (KPI cards) and the pipeline's health line."""

from __future__ import annotations

from typing import Any

import panel as pn

from config import Settings
from detection.metrics import AMOUNT_AT_RISK_EUR, TRANSACTIONS_INVALID, TRANSACTIONS_SCORED, Family
from detection.quality import ratio
from ui.feed import DashboardFeed
from ui.panels import Tick

KPI_STYLE = (
    "border:1px solid #e5e7eb;border-radius:8px;padding:8px 14px;min-width:130px;"
    "font-family:sans-serif;background:#fafafa"
)


def kpi_html(kpis: dict[str, tuple[str, str]]) -> str:
    """KPI cards; ``kpis`` maps an element id to (label, formatted value)."""
    cards = "".join(
        f"<div class='kpi' id='kpi-{key}' style='{KPI_STYLE}'><div style='font-size:11px;color:#6b7280'>{label}</div>"
        f"<div class='kpi-value' style='font-size:22px;font-weight:600'>{value}</div></div>"
        for key, (label, value) in kpis.items()
    )
    return f"<div style='display:flex;flex-wrap:wrap;gap:8px'>{cards}</div>"


class KpiPanel:
    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.kpis = pn.pane.HTML(kpi_html({}), sizing_mode="stretch_width")

    def view(self) -> Any:
        return self.kpis

    def refresh(self, tick: Tick) -> None:
        totals = tick.totals
        scored = totals.get(TRANSACTIONS_SCORED)
        alerts = sum(totals.family(Family.ALERTS_SEVERITY).values())
        quality = totals.quality()
        recent = tick.recent_seconds
        throughput = sum(s.transactions for s in recent) / max(1, len(recent))
        latency = max((s.latency_p99_ms for s in recent), default=0.0)
        self.kpis.object = kpi_html(
            {
                "transactions": ("Transactions", f"{scored:,.0f}"),
                "alerts": ("Alerts", f"{alerts:,.0f}"),
                "fraud-rate": ("Fraud rate", f"{100 * ratio(alerts, scored):.2f} %"),
                "at-risk": ("Amount at risk", f"{totals.get(AMOUNT_AT_RISK_EUR):,.0f} EUR"),
                "throughput": ("Throughput", f"{throughput:,.1f} tx/s"),
                "latency": ("Latency p99", f"{latency:,.1f} ms"),
                "lag": ("Consumer lag", f"{tick.consumer_lag:,} records"),
                "dead-letters": ("Dead-lettered", f"{totals.get(TRANSACTIONS_INVALID):,.0f}"),
                "precision": ("Precision", f"{quality.precision:.2f}"),
                "recall": ("Recall", f"{quality.recall:.2f}"),
                "f1": ("F1", f"{quality.f1:.2f}"),
            }
        )


class HealthPanel:
    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.health = pn.pane.HTML("", sizing_mode="stretch_width")

    def view(self) -> Any:
        return self.health

    def refresh(self, tick: Tick) -> None:
        quality = tick.totals.quality()
        freshness = f"{tick.now - tick.last_message_at:.1f} s ago" if tick.last_message_at else "never"
        self.health.object = (
            f"<div id='health' style='font-family:sans-serif;font-size:12px;color:#374151'>"
            f"Pipeline: {len(tick.live_workers)} worker(s) reporting · last data {freshness} · "
            f"feedback confirmed {quality.true_positives + quality.false_negatives} fraud(s), "
            f"{quality.false_positives} false positive(s)</div>"
        )
