"""The dashboard's panels: small objects, each owning its widgets, listed in order in ui/app.py.

A panel has a ``view()`` (its part of the page, built once per browser session) and a
``refresh(tick)`` called every refresh with what is new; adding a panel is one class and one
line in ``ui.app.PANELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import panel as pn

from config import Settings
from detection.alert import Alert
from detection.metrics import MetricsTotals
from ui.feed import DashboardFeed, Second


@dataclass(frozen=True, slots=True)
class Tick:
    """What one refresh hands every panel (read from the shared feed once, under its lock)."""

    now: float
    new_alerts: list[Alert]  # oldest first
    new_seconds: list[Second]  # per-second history settled since the last tick
    recent_seconds: list[Second]  # the last ten settled seconds
    totals: MetricsTotals
    live_workers: set[str]
    consumer_lag: int
    last_message_at: float | None


class Panel(Protocol):
    """One part of the page."""

    def view(self) -> Any:
        """The Panel/Bokeh object to lay out (built once per session)."""

    def refresh(self, tick: Tick) -> None:
        """Show what is new; runs in the session's periodic callback, with the document lock held."""


class PanelFactory(Protocol):
    def __call__(self, feed: DashboardFeed, settings: Settings) -> Panel: ...


def selectable_table(columns: list[str], height: int, name: str, hidden: list[str] | None = None) -> Any:
    """A read-only Tabulator of ``columns`` where the analyst selects one row (alerts, cases)."""
    return pn.widgets.Tabulator(
        pd.DataFrame(columns=columns),
        height=height,
        sizing_mode="stretch_width",
        selectable=1,
        disabled=True,
        show_index=False,
        layout="fit_data_stretch",
        name=name,
        hidden_columns=hidden or [],
    )
