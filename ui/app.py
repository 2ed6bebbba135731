"""The live fraud dashboard: `fraudwatch dashboard` (or `panel serve ui/app.py`).

Every browser session gets its own layout; all of them read the one shared feed (ui.feed) and
pull what is new twice a second, streaming it into bounded sources (rollover), so a page stays
responsive and a reconnecting browser starts from the server's current state.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pandas as pd
import panel as pn

from config import Settings, get_settings
from detection.alert import Alert
from ui.charts import bar_chart, bar_source, line_chart, set_bars, timeline_source
from ui.feed import DashboardFeed, shared_feed

logger = logging.getLogger(__name__)
REFRESH_MS = 250
TABLE_ROWS = 500
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
SEVERITIES = ["critical", "high", "medium", "low"]
RULES = [
    "",
    "HIGH_AMOUNT",
    "VELOCITY",
    "BLACKLISTED",
    "HIGH_RISK_CUSTOMER",
    "AMOUNT_DEVIATION",
    "UNUSUAL_LOCATION",
    "IMPOSSIBLE_TRAVEL",
    "RISKY_MERCHANT",
    "CARD_TESTING",
]
KPI_STYLE = (
    "border:1px solid #e5e7eb;border-radius:8px;padding:8px 14px;min-width:130px;"
    "font-family:sans-serif;background:#fafafa"
)


def alert_row(alert: Alert) -> dict[str, Any]:
    t = alert.transaction
    return {
        "detected_at": alert.detected_at.astimezone(UTC).strftime("%H:%M:%S"),
        "severity": alert.severity,
        "score": alert.score,
        "customer": alert.customer.customer_id,
        "amount_eur": round(t.amount_eur, 2),
        "country": t.country or "",
        "channel": t.channel or "",
        "merchant": t.merchant_id or "",
        "reasons": " ".join(r.code for r in alert.reasons),
        "alert_id": alert.alert_id,
    }


def kpi_html(kpis: dict[str, tuple[str, str]]) -> str:
    """KPI cards; ``kpis`` maps an element id to (label, formatted value)."""
    cards = "".join(
        f"<div class='kpi' id='kpi-{key}' style='{KPI_STYLE}'><div style='font-size:11px;color:#6b7280'>{label}</div>"
        f"<div class='kpi-value' style='font-size:22px;font-weight:600'>{value}</div></div>"
        for key, (label, value) in kpis.items()
    )
    return f"<div style='display:flex;flex-wrap:wrap;gap:8px'>{cards}</div>"


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


class DashboardSession:
    """One browser's view."""

    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.feed = feed
        self.settings = settings
        self.sequence = 0
        self.last_second = 0
        self.alerts_by_id: dict[str, Alert] = {}
        self.selected: Alert | None = None
        #: New rows (newest first) held back while an alert is selected, so the selection stays put.
        self.held: list[dict[str, Any]] = []

        self.kpis = pn.pane.HTML(kpi_html({}), sizing_mode="stretch_width")
        self.health = pn.pane.HTML("", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=ALERT_COLUMNS),
            height=360,
            sizing_mode="stretch_width",
            selectable=1,
            disabled=True,
            show_index=False,
            layout="fit_data_stretch",
            name="alerts",
            hidden_columns=["alert_id"],
        )
        self.severity_filter = pn.widgets.MultiChoice(name="Severity", options=SEVERITIES, value=[], width=260)
        self.rule_filter = pn.widgets.Select(name="Rule", options=RULES, value="", width=200)
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

        self.timeline = timeline_source()
        charts = [
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
        self.bars: dict[str, tuple[Any, Any]] = {}
        for key, title, colour in (
            ("rules", "Rule hits", "#dc2626"),
            ("countries", "Alerts by country", "#2563eb"),
            ("merchants", "Riskiest merchants (alerts)", "#b45309"),
            ("channels", "Alert rate by channel and device %", "#0891b2"),
            ("dead", "Dead letters by reason", "#7c3aed"),
        ):
            source = bar_source()
            self.bars[key] = (bar_chart(title, source, colour), source)

        bokeh = pn.pane.Bokeh
        self.layout = pn.Column(
            pn.pane.HTML("<h2 style='font-family:sans-serif;margin:4px 0'>fraudwatch — live fraud monitoring</h2>"),
            self.kpis,
            self.health,
            pn.Row(self.severity_filter, self.rule_filter, self.country_filter),
            pn.Row(
                pn.Column(self.table, sizing_mode="stretch_width"),
                pn.Column(self.detail, pn.Row(self.confirm, self.dismiss), self.action_status, width=460),
            ),
            pn.GridBox(
                *[bokeh(chart, sizing_mode="stretch_width") for chart in charts], ncols=2, sizing_mode="stretch_width"
            ),
            pn.GridBox(
                *[bokeh(chart, sizing_mode="stretch_width") for chart, _ in self.bars.values()],
                ncols=3,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
        self.refresh()

    # --- filters ---------------------------------------------------------------------------------
    @staticmethod
    def _severity_filter(df: pd.DataFrame, severities: list[str]) -> pd.DataFrame:
        return df[df["severity"].isin(severities)] if severities else df

    @staticmethod
    def _text_filter(df: pd.DataFrame, text: str, column: str) -> pd.DataFrame:
        text = (text or "").strip().upper()
        return df[df[column].str.upper().str.contains(text, regex=False)] if text else df

    # --- periodic refresh (runs with the document lock held) ---------------------------------------
    def refresh(self) -> None:
        self.sequence, fresh = self.feed.alerts_after(self.sequence)
        if fresh:
            for alert in fresh:
                self.alerts_by_id[alert.alert_id] = alert
            if len(self.alerts_by_id) > 2 * TABLE_ROWS:  # bounded: keep what the table can still show
                for stale in list(self.alerts_by_id)[: len(self.alerts_by_id) - TABLE_ROWS]:
                    del self.alerts_by_id[stale]
            newest = [alert_row(a) for a in reversed(fresh[-TABLE_ROWS:])]
            self.held = (newest + self.held)[:TABLE_ROWS]
        if self.held and not self.table.selection:
            newest_first = pd.DataFrame(self.held, columns=ALERT_COLUMNS)
            self.table.value = pd.concat([newest_first, self.table.value], ignore_index=True).head(TABLE_ROWS)
            self.held = []
        seconds = self.feed.settled_seconds(self.last_second)
        if seconds:
            self.last_second = seconds[-1].t
            self.timeline.stream(
                {
                    "time": [datetime.fromtimestamp(s.t, UTC) for s in seconds],
                    "transactions": [s.transactions for s in seconds],
                    "alerts": [s.alerts for s in seconds],
                    "fraud_rate": [100 * ratio(s.alerts, s.transactions) for s in seconds],
                    "dead_letters": [s.dead_letters for s in seconds],
                    "latency_p99_ms": [s.latency_p99_ms for s in seconds],
                },
                rollover=self.settings.dashboard_history_s,
            )
        self._refresh_totals()

    def _refresh_totals(self) -> None:
        metrics, workers, last_message = self.feed.totals()
        family, totals = metrics.family, metrics.counters
        scored = totals.get("transactions.scored", 0.0)
        alerts = sum(family("alerts.severity").values())
        quality = family("quality")
        tp, fp, fn = (quality.get(k, 0.0) for k in ("true_positive", "false_positive", "false_negative"))
        precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
        f1 = ratio(2 * precision * recall, precision + recall)
        recent = self.feed.settled_seconds(self.last_second - 10)
        throughput = sum(s.transactions for s in recent) / max(1, len(recent))
        latency = max((s.latency_p99_ms for s in recent), default=0.0)
        now = datetime.now(UTC).timestamp()
        live = {worker for worker, seen in workers.items() if now - seen < 5}
        self.kpis.object = kpi_html(
            {
                "transactions": ("Transactions", f"{scored:,.0f}"),
                "alerts": ("Alerts", f"{alerts:,.0f}"),
                "fraud-rate": ("Fraud rate", f"{100 * ratio(alerts, scored):.2f} %"),
                "at-risk": ("Amount at risk", f"{totals.get('amount.at_risk_eur', 0.0):,.0f} EUR"),
                "throughput": ("Throughput", f"{throughput:,.1f} tx/s"),
                "latency": ("Latency p99", f"{latency:,.1f} ms"),
                "lag": ("Consumer lag", f"{self.feed.consumer_lag(live):,} records"),
                "dead-letters": ("Dead-lettered", f"{totals.get('transactions.invalid', 0.0):,.0f}"),
                "precision": ("Precision", f"{precision:.2f}"),
                "recall": ("Recall", f"{recall:.2f}"),
                "f1": ("F1", f"{f1:.2f}"),
            }
        )
        alive = len(live)
        freshness = f"{now - last_message:.1f} s ago" if last_message else "never"
        self.health.object = (
            f"<div id='health' style='font-family:sans-serif;font-size:12px;color:#374151'>"
            f"Pipeline: {alive} worker(s) reporting · last data {freshness} · "
            f"feedback confirmed {tp + fn:.0f} fraud(s), {fp:.0f} false positive(s)</div>"
        )
        set_bars(*self.bars["rules"], family("alerts.rule"))
        set_bars(*self.bars["countries"], family("alerts.country"))
        set_bars(*self.bars["merchants"], family("alerts.merchant"))
        rates = {
            f"channel {k}": 100 * ratio(v, totals.get(f"transactions.channel.{k}", 0.0))
            for k, v in family("alerts.channel").items()
        }
        rates.update(
            {
                f"{k} device": 100 * ratio(v, totals.get(f"transactions.device.{k}", 0.0))
                for k, v in family("alerts.device").items()
            }
        )
        set_bars(*self.bars["channels"], rates)
        set_bars(*self.bars["dead"], family("dead_letter"))

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
        self.detail.object = self._describe(self.selected) + await self._history(self.selected.customer.customer_id)

    @staticmethod
    def _describe(alert: Alert) -> str:
        t, c = alert.transaction, alert.customer
        reasons = "\n".join(f"- **{r.code}** — {r.description}" for r in alert.reasons)
        return (
            f"### {alert.severity.upper()} · score {alert.score}\n"
            f"{t.amount:,.2f} {t.currency} at {t.merchant_id or '-'} ({t.city or '-'}, {t.country or '-'}), "
            f"{t.channel or '-'} · customer **{c.customer_id}** {c.name or ''} · account "
            f"{c.account_number_masked or '-'}\n\n{reasons}\n\n"
        )

    @property
    def _api_headers(self) -> dict[str, str]:
        token = self.settings.api_token  # the worker's read API requires it when set
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _history(self, customer_id: str) -> str:
        url = f"{self.settings.worker_api_url}/api/customers/{customer_id}/transactions?limit=8"
        try:
            timeout = aiohttp.ClientTimeout(total=2)
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


def create_dashboard() -> pn.viewable.Viewable:
    settings = get_settings()
    from agents.app import broker_url  # the resolved (embedded or Redpanda) URL

    feed = shared_feed(settings, broker_url(settings))
    session = DashboardSession(feed, settings)
    pn.state.add_periodic_callback(session.refresh, period=REFRESH_MS)
    return session.layout


if __name__.startswith("bokeh"):  # `panel serve ui/app.py`
    create_dashboard().servable(title="fraudwatch")
