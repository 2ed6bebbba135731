"""The alerts table only appends, so a row's position (what Tabulator's selection carries) never moves."""

from __future__ import annotations

from config import Settings
from detection.metrics import MetricsTotals
from tests.alerts_fixture import make_alert
from ui.panels import Tick
from ui.panels.alerts import TABLE_ROWS, TRIM_SLACK, AlertsPanel


def tick(first: int, count: int, now: float = 0.0) -> Tick:
    alerts = [make_alert(n, customer=f"C-{n}") for n in range(first, first + count)]
    return Tick(
        now=now,
        new_alerts=alerts,
        new_seconds=[],
        recent_seconds=[],
        totals=MetricsTotals(),
        live_workers=set(),
        consumer_lag=0,
        last_message_at=None,
    )


def new_panel() -> AlertsPanel:
    # Nothing listens on port 1: selecting an alert shows "history unavailable" at once.
    return AlertsPanel(None, Settings(worker_api_url="http://127.0.0.1:1"))  # type: ignore[arg-type]


def customers(panel: AlertsPanel) -> list[str]:
    return list(panel.table.value["customer"])


def test_new_alerts_are_appended_and_wait_while_one_is_selected() -> None:
    panel = new_panel()
    panel.refresh(tick(0, 3, now=10.0))
    panel.refresh(tick(3, 2, now=10.25))
    assert customers(panel) == ["C-0", "C-1", "C-2"]  # the next rows wait for the next second
    panel.refresh(tick(5, 0, now=11.0))
    assert customers(panel) == ["C-0", "C-1", "C-2", "C-3", "C-4"]  # appended: positions never move

    panel.table.selection = [1]
    panel.refresh(tick(5, 2, now=12.0))
    assert customers(panel) == ["C-0", "C-1", "C-2", "C-3", "C-4"]  # held while the analyst works an alert
    assert panel.table.selected_dataframe.iloc[0]["customer"] == "C-1"

    panel.table.selection = []
    panel.refresh(tick(7, 1, now=13.0))
    assert customers(panel)[-4:] == ["C-4", "C-5", "C-6", "C-7"]


def test_the_table_trims_to_its_newest_rows_and_every_shown_alert_can_be_looked_up() -> None:
    panel = new_panel()
    shown = 0
    while shown <= TABLE_ROWS + TRIM_SLACK:
        panel.refresh(tick(shown, 50, now=float(shown)))
        shown += 50
    assert len(panel.table.value) <= TABLE_ROWS + TRIM_SLACK
    assert customers(panel)[-1] == f"C-{shown - 1}"
    assert all(alert_id in panel.alerts_by_id for alert_id in panel.table.value["alert_id"])
