"""The alerts table with its filters, and the selected alert's detail with the analyst's verdict buttons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pandas as pd
import panel as pn

from config import Settings
from detection.alert import Alert
from detection.models import Severity
from detection.rules import RuleCode
from ui.feed import DashboardFeed
from ui.panels import Tick, selectable_table

#: Rows the table keeps after a trim; it grows by appending to TABLE_ROWS + TRIM_SLACK, then trims.
TABLE_ROWS = 500
TRIM_SLACK = 250
#: Alerts kept for lookup by id: more than the table and the held rows can show together.
KNOWN_ALERTS = 4 * TABLE_ROWS
#: New rows join the table at most this often: each append scrolls the table to them, and a table
#: that moves every 250 ms cannot be read or clicked.
APPEND_EVERY_S = 1.0
#: A worker busy with a backlog answers its read API late; past this the detail says history is unavailable.
HISTORY_TIMEOUT_S = 5.0
ALERT_COLUMNS = [
    "detected_at",
    "severity",
    "score",
    "customer",
    "amount_eur",
    "country",
    "channel",
    "merchant",
    "reasons",
    "alert_id",
]
#: Most severe first, as an analyst scans them.
SEVERITIES = [severity.value for severity in reversed(Severity)]
RULE_CHOICES = ["", *(code.value for code in RuleCode)]


def alert_row(alert: Alert) -> dict[str, Any]:
    t = alert.transaction
    return {
        "detected_at": alert.detected_at.astimezone(UTC).strftime("%H:%M:%S"),
        "severity": alert.severity.value,
        "score": alert.score,
        "customer": alert.customer.customer_id,
        "amount_eur": round(t.amount_eur, 2),
        "country": t.country or "",
        "channel": t.channel or "",
        "merchant": t.merchant_id or "",
        "reasons": " ".join(r.code for r in alert.reasons),
        "alert_id": alert.alert_id,
    }


def describe(alert: Alert) -> str:
    t, c = alert.transaction, alert.customer
    reasons = "\n".join(f"- **{r.code}** — {r.description}" for r in alert.reasons)
    return (
        f"### {alert.severity.upper()} · score {alert.score}\n"
        f"{t.amount:,.2f} {t.currency} at {t.merchant_id or '-'} ({t.city or '-'}, {t.country or '-'}), "
        f"{t.channel or '-'} · customer **{c.customer_id}** {c.name or ''} · account "
        f"{c.account_number_masked or '-'}\n\n{reasons}\n\n"
    )


class AlertsPanel:
    """Alerts as they arrive, appended at the bottom (the table follows them), like a log tail.

    Why append, not newest-first: Tabulator's selection travels between browser and server as a
    row *position*. Inserting rows on top shifts every position, so a click in flight while a refresh
    lands either gets lost or picks the alert that moved into the clicked position (measured: 3 of
    80 clicks lost). Appending never moves a row, so a click always means the row clicked. The rare
    trim (every TRIM_SLACK alerts) happens only while nothing is selected. New rows join at most
    once a second; while an alert is selected they wait, so the analyst's view stays put.
    """

    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.feed = feed
        self.settings = settings
        self.alerts_by_id: dict[str, Alert] = {}
        self.selected: Alert | None = None
        #: New rows (oldest first) held back while an alert is selected or until APPEND_EVERY_S has passed.
        self.held: list[dict[str, Any]] = []
        self.appended_at = float("-inf")

        self.table = selectable_table(ALERT_COLUMNS, 360, "alerts", hidden=["alert_id"])
        self.severity_filter = pn.widgets.MultiChoice(name="Severity", options=SEVERITIES, value=[], width=260)
        self.rule_filter = pn.widgets.Select(name="Rule", options=RULE_CHOICES, value="", width=200)
        self.country_filter = pn.widgets.TextInput(name="Country", placeholder="e.g. DE", width=100)
        # Bound by keyword: Tabulator passes the frame as the first argument.
        self.table.add_filter(pn.bind(self._severity_filter, severities=self.severity_filter))
        self.table.add_filter(pn.bind(self._text_filter, text=self.rule_filter, column="reasons"))
        self.table.add_filter(pn.bind(self._text_filter, text=self.country_filter, column="country"))
        self.table.param.watch(self._on_select, "selection")

        self.detail = pn.pane.Markdown(
            "Click an alert to see why it fired and the customer's recent history.", sizing_mode="stretch_width"
        )
        self.confirm = pn.widgets.Button(name="Confirm fraud", button_type="danger", disabled=True)
        self.dismiss = pn.widgets.Button(name="False positive", button_type="success", disabled=True)
        self.action_status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.confirm.on_click(lambda _e: self._verdict(True))
        self.dismiss.on_click(lambda _e: self._verdict(False))

    def view(self) -> Any:
        return pn.Column(
            pn.Row(self.severity_filter, self.rule_filter, self.country_filter),
            pn.Row(
                pn.Column(self.table, sizing_mode="stretch_width"),
                pn.Column(self.detail, pn.Row(self.confirm, self.dismiss), self.action_status, width=460),
            ),
            sizing_mode="stretch_width",
        )

    def refresh(self, tick: Tick) -> None:
        fresh = tick.new_alerts
        if fresh:
            for alert in fresh:
                self.alerts_by_id[alert.alert_id] = alert
            if len(self.alerts_by_id) > KNOWN_ALERTS + TABLE_ROWS:  # bounded: keep what the table can still show
                for stale in list(self.alerts_by_id)[: len(self.alerts_by_id) - KNOWN_ALERTS]:
                    del self.alerts_by_id[stale]
            self.held = (self.held + [alert_row(a) for a in fresh])[-TABLE_ROWS:]
        if self.held and not self.table.selection and tick.now - self.appended_at >= APPEND_EVERY_S:
            self.appended_at = tick.now
            rows = pd.DataFrame(self.held, columns=ALERT_COLUMNS)
            if len(self.table.value) + len(rows) > TABLE_ROWS + TRIM_SLACK:
                shown = pd.concat([self.table.value, rows], ignore_index=True)
                self.table.value = shown.tail(TABLE_ROWS).reset_index(drop=True)
            else:
                self.table.stream(rows, follow=True)
            self.held = []

    # --- filters ---------------------------------------------------------------------------------
    @staticmethod
    def _severity_filter(df: pd.DataFrame, severities: list[str]) -> pd.DataFrame:
        return df[df["severity"].isin(severities)] if severities else df

    @staticmethod
    def _text_filter(df: pd.DataFrame, text: str, column: str) -> pd.DataFrame:
        text = (text or "").strip().upper()
        return df[df[column].str.upper().str.contains(text, regex=False)] if text else df

    # --- selection and analyst actions -------------------------------------------------------------
    async def _on_select(self, event: Any) -> None:
        selected = self.table.selected_dataframe
        if not event.new or selected is None or selected.empty:
            return
        self.selected = self.alerts_by_id.get(str(selected.iloc[0]["alert_id"]))
        if self.selected is None:
            return
        self.confirm.disabled = self.dismiss.disabled = False
        self.action_status.object = ""
        alert = self.selected
        self.detail.object = describe(alert) + "_Loading the customer's recent transactions…_"
        history = await self._history(alert.customer.customer_id)
        if self.selected is alert:  # the analyst may have picked another alert meanwhile
            self.detail.object = describe(alert) + history

    @property
    def _api_headers(self) -> dict[str, str]:
        token = self.settings.api_token  # the worker's read API requires it when set
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _history(self, customer_id: str) -> str:
        url = f"{self.settings.worker_api_url}/api/customers/{customer_id}/transactions?limit=8"
        try:
            timeout = aiohttp.ClientTimeout(total=HISTORY_TIMEOUT_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=self._api_headers) as response,
            ):
                body = json.loads(await response.text()) if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            body = None
        if not body:
            return "_Customer history unavailable (worker read API not reachable)._"
        lines = ["| when | amount EUR | merchant | country | score |", "|---|---:|---|---|---:|"]
        for item in body["items"]:
            when = datetime.fromtimestamp(item["ts"], UTC).strftime("%m-%d %H:%M:%S")
            lines.append(
                f"| {when} | {item['amount_eur']:,.2f} | {item['merchant_id'] or '-'} | "
                f"{item['country'] or '-'} | {item['score']} |"
            )
        return f"**Recent transactions** ({body['total']} in the last 24 h)\n\n" + "\n".join(lines)

    def _verdict(self, is_fraud: bool) -> None:
        alert = self.selected
        if alert is None:
            return
        try:
            self.feed.publish_feedback(alert, is_fraud).result(timeout=10)
        except Exception as exc:  # shown to the analyst; nothing was recorded
            self.action_status.object = f"**Could not record the verdict:** {exc}"
            return
        verdict = "confirmed fraud" if is_fraud else "false positive"
        self.action_status.object = (
            f"Recorded: transaction {alert.transaction.transaction_id} of customer "
            f"{alert.customer.customer_id} is **{verdict}**."
        )
