"""Time series (throughput, fraud rate, data quality, latency) and breakdowns (rules, countries, ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import panel as pn

from config import Settings
from detection.metrics import Family
from detection.quality import ratio
from ui.charts import bar_chart, bar_source, line_chart, set_bars, timeline_source
from ui.feed import DashboardFeed
from ui.panels import Tick


class TimelinePanel:
    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.history_s = settings.dashboard_history_s
        self.timeline = timeline_source()
        self.charts = [
            line_chart(
                "Throughput",
                self.timeline,
                [("transactions", "transactions/s", "#2563eb"), ("alerts", "alerts/s", "#dc2626")],
                "per second",
            ),
            line_chart("Fraud rate", self.timeline, [("fraud_rate", "alerts / transactions %", "#b91c1c")], "%"),
            line_chart("Data quality", self.timeline, [("dead_letters", "dead-lettered/s", "#7c3aed")], "per second"),
            line_chart("Detection latency", self.timeline, [("latency_p99_ms", "p99 ms", "#059669")], "ms"),
        ]

    def view(self) -> Any:
        panes = [pn.pane.Bokeh(chart, sizing_mode="stretch_width") for chart in self.charts]
        return pn.GridBox(*panes, ncols=2, sizing_mode="stretch_width")

    def refresh(self, tick: Tick) -> None:
        seconds = tick.new_seconds
        if not seconds:
            return
        self.timeline.stream(
            {
                "time": [datetime.fromtimestamp(s.t, UTC) for s in seconds],
                "transactions": [s.transactions for s in seconds],
                "alerts": [s.alerts for s in seconds],
                "fraud_rate": [100 * ratio(s.alerts, s.transactions) for s in seconds],
                "dead_letters": [s.dead_letters for s in seconds],
                "latency_p99_ms": [s.latency_p99_ms for s in seconds],
            },
            rollover=self.history_s,
        )


def _rates_by_channel_and_device(tick: Tick) -> dict[str, float]:
    totals = tick.totals
    seen_channel, seen_device = totals.family(Family.TRANSACTIONS_CHANNEL), totals.family(Family.TRANSACTIONS_DEVICE)
    rates = {
        f"channel {k}": 100 * ratio(v, seen_channel.get(k, 0.0))
        for k, v in totals.family(Family.ALERTS_CHANNEL).items()
    }
    rates.update(
        {f"{k} device": 100 * ratio(v, seen_device.get(k, 0.0)) for k, v in totals.family(Family.ALERTS_DEVICE).items()}
    )
    return rates


#: (title, colour, what it plots) of each breakdown bar chart.
BREAKDOWNS: list[tuple[str, str, Any]] = [
    ("Rule hits", "#dc2626", lambda tick: tick.totals.family(Family.ALERTS_RULE)),
    ("Alerts by country", "#2563eb", lambda tick: tick.totals.family(Family.ALERTS_COUNTRY)),
    ("Riskiest merchants (alerts)", "#b45309", lambda tick: tick.totals.family(Family.ALERTS_MERCHANT)),
    ("Alert rate by channel and device %", "#0891b2", _rates_by_channel_and_device),
    ("Dead letters by reason", "#7c3aed", lambda tick: tick.totals.family(Family.DEAD_LETTER)),
]


class BreakdownPanel:
    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.bars = []
        for title, colour, values in BREAKDOWNS:
            source = bar_source()
            self.bars.append((bar_chart(title, source, colour), source, values))

    def view(self) -> Any:
        panes = [pn.pane.Bokeh(chart, sizing_mode="stretch_width") for chart, _, _ in self.bars]
        return pn.GridBox(*panes, ncols=3, sizing_mode="stretch_width")

    def refresh(self, tick: Tick) -> None:
        for chart, source, values in self.bars:
            set_bars(chart, source, values(tick))
