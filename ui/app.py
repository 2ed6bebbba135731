"""The live fraud dashboard: `fraudwatch dashboard` (or `panel serve ui/app.py`).

Every browser session gets its own panels; all of them read the one shared feed (ui.feed) and
pull what is new four times a second, streaming it into bounded sources (rollover), so a page stays
responsive and a reconnecting browser starts from the server's current state. The page is the
list ``PANELS`` below, top to bottom.
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn

from config import Settings, get_settings
from ui.feed import DashboardFeed, shared_feed
from ui.panels import Panel, PanelFactory, Tick
from ui.panels.alerts import AlertsPanel
from ui.panels.charts import BreakdownPanel, TimelinePanel
from ui.panels.kpis import HealthPanel, KpiPanel
from ui.panels.models import ModelsPanel
from ui.panels.operations import CasesPanel, RulesPanel

REFRESH_MS = 250
#: A worker counts as live while its snapshots keep coming within this many seconds.
LIVE_WORKER_S = 5
TITLE = "<h2 style='font-family:sans-serif;margin:4px 0'>fraudwatch — live fraud monitoring</h2>"

#: The page, top to bottom.
PANELS: list[PanelFactory] = [
    KpiPanel,
    HealthPanel,
    AlertsPanel,
    CasesPanel,
    TimelinePanel,
    BreakdownPanel,
    RulesPanel,
    ModelsPanel,
]


class DashboardSession:
    """One browser's view: its panels, and where in the shared feed it has read up to."""

    def __init__(self, feed: DashboardFeed, settings: Settings, panels: list[PanelFactory] = PANELS) -> None:
        self.feed = feed
        self.sequence = 0
        self.last_second = 0
        self.panels: list[Panel] = [make(feed, settings) for make in panels]
        self.layout = pn.Column(
            pn.pane.HTML(TITLE), *[panel.view() for panel in self.panels], sizing_mode="stretch_width"
        )
        self.refresh()

    def refresh(self) -> None:
        """Runs every REFRESH_MS with the document lock held."""
        tick = self._tick()
        for panel in self.panels:
            panel.refresh(tick)

    def _tick(self) -> Tick:
        self.sequence, alerts = self.feed.alerts_after(self.sequence)
        seconds = self.feed.settled_seconds(self.last_second)
        if seconds:
            self.last_second = seconds[-1].t
        totals, workers, last_message = self.feed.totals()
        now = time.time()
        live = {worker for worker, seen in workers.items() if now - seen < LIVE_WORKER_S}
        return Tick(
            now=now,
            new_alerts=alerts,
            new_seconds=seconds,
            recent_seconds=self.feed.settled_seconds(self.last_second - 10),
            totals=totals,
            live_workers=live,
            consumer_lag=self.feed.consumer_lag(live),
            last_message_at=last_message,
        )


class BrokerNotResolvedError(RuntimeError):
    """The dashboard was started without a broker URL (FRAUDWATCH_BROKER is still 'embedded')."""


def create_dashboard() -> Any:
    # The entry point (`fraudwatch dashboard`) resolves the broker and hands the URL down in the settings.
    settings = get_settings()
    if settings.is_embedded:
        raise BrokerNotResolvedError(
            "run `fraudwatch dashboard`, or set FRAUDWATCH_BROKER to the broker's kafka:// URL for `panel serve`"
        )
    session = DashboardSession(shared_feed(settings, settings.broker), settings)
    pn.state.add_periodic_callback(session.refresh, period=REFRESH_MS)
    return session.layout


if __name__.startswith("bokeh"):  # `panel serve ui/app.py`
    create_dashboard().servable(title="fraudwatch")
