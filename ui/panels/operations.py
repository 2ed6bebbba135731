"""Analysts' cases and live rule sets: work a case from open to closed; publish a rule set.

Both write through the feed's producer what the commands write (detection.cases.CaseCommand,
detection.rule_sets messages plus an audit record), so the page and the CLI cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn

from config import Settings
from config.rules import DEFAULT_RULES_FILE
from detection.audit import audit_message, change_record
from detection.cases import Case, CaseCommand, CaseError, CaseStatus, apply_command, select_cases
from detection.metrics import SHADOW_RULES_ALERTS, Family, quality_of
from detection.rule_sets import Role, publish_messages, rules_config_from_toml
from ui.feed import DashboardFeed
from ui.panels import Tick, selectable_table

CASE_COLUMNS = ["case_id", "status", "customer", "alerts", "max_score", "assignee", "updated"]
STATUS_CHOICES = ["", "open", "investigating", "closed", "closed_fraud", "closed_not_fraud"]
CASE_ROWS = 200


def analyst() -> str:
    """Who acts: the logged-in user with a dashboard password, else 'dashboard'."""
    return str(pn.state.user or "dashboard")


def case_row(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "status": case.status,
        "customer": case.customer_id,
        "alerts": len(case.alerts),
        "max_score": case.max_score,
        "assignee": case.assignee or "",
        "updated": case.updated_at.astimezone(UTC).strftime("%m-%d %H:%M:%S"),
    }


class CasesPanel:
    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.feed, self.settings = feed, settings
        self.sequence = -1
        self.cases: dict[str, Case] = {}
        self.selected: Case | None = None
        self.status_filter = pn.widgets.Select(name="Cases", options=STATUS_CHOICES, value="", width=180)
        self.table = selectable_table(CASE_COLUMNS, 260, "cases")
        self.table.param.watch(self._on_select, "selection")
        self.status_filter.param.watch(lambda _e: self._show(force=True), "value")
        self.detail = pn.pane.Markdown("Click a case to work it.", sizing_mode="stretch_width")
        self.assignee = pn.widgets.TextInput(name="Assign to", width=160)
        self.comment = pn.widgets.TextInput(name="Comment", width=280)
        self.buttons = {
            "assign": pn.widgets.Button(name="Assign", width=90),
            "comment": pn.widgets.Button(name="Comment", width=90),
            "investigating": pn.widgets.Button(name="Investigating", button_type="warning", width=120),
            "closed_fraud": pn.widgets.Button(name="Close as fraud", button_type="danger", width=130),
            "closed_not_fraud": pn.widgets.Button(name="Close as not fraud", button_type="success", width=150),
        }
        for action, button in self.buttons.items():
            button.disabled = True
            button.on_click(self._handler(action))
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")

    def _handler(self, action: str) -> Any:
        def on_click(_event: Any) -> None:
            self._act(action)

        return on_click

    def view(self) -> Any:
        b = self.buttons
        return pn.Column(
            pn.pane.HTML("<h3 style='font-family:sans-serif;margin:4px 0'>Cases</h3>"),
            self.status_filter,
            pn.Row(
                pn.Column(self.table, sizing_mode="stretch_width"),
                pn.Column(
                    self.detail,
                    pn.Row(self.assignee, b["assign"]),
                    pn.Row(self.comment, b["comment"]),
                    pn.Row(b["investigating"], b["closed_fraud"], b["closed_not_fraud"]),
                    self.status,
                    width=560,
                ),
            ),
            sizing_mode="stretch_width",
        )

    def refresh(self, tick: Tick) -> None:
        self._show()

    def _show(self, force: bool = False) -> None:
        sequence, cases, _ = self.feed.operations()
        if sequence == self.sequence and not force:
            return
        self.sequence = sequence
        self.cases = {case.case_id: case for case in cases}
        if self.selected is not None:
            self.selected = self.cases.get(self.selected.case_id, self.selected)
            self.detail.object = self._describe(self.selected)
        if self.table.selection and not force:
            return  # keep the analyst's selection in place; the detail above is up to date
        matched, _ = select_cases(cases, self.status_filter.value or None)
        self.table.value = pd.DataFrame([case_row(c) for c in matched[:CASE_ROWS]], columns=CASE_COLUMNS)

    def _on_select(self, event: Any) -> None:
        selected = self.table.selected_dataframe
        if not event.new or selected is None or selected.empty:
            return
        self.selected = self.cases.get(str(selected.iloc[0]["case_id"]))
        if self.selected is not None:
            for button in self.buttons.values():
                button.disabled = False
            self.status.object = ""
            self.detail.object = self._describe(self.selected)

    @staticmethod
    def _describe(case: Case) -> str:
        alerts = "\n".join(
            f"- {a.detected_at.astimezone(UTC):%m-%d %H:%M:%S} transaction {a.transaction_id}: score {a.score} "
            f"({', '.join(a.reasons)})"
            for a in case.alerts[-10:]
        )
        comments = "\n".join(f"- _{c.by}_: {c.text}" for c in case.comments[-5:])
        return (
            f"### Case {case.case_id[:8]} · **{case.status}** · customer {case.customer_id}\n"
            f"assignee {case.assignee or '-'} · opened {case.opened_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}\n\n"
            f"{alerts}\n\n{comments}"
        )

    def _act(self, action: str) -> None:
        case = self.selected
        if case is None:
            return
        status: CaseStatus | None = None
        if action in ("investigating", "closed_fraud", "closed_not_fraud"):
            status = action  # type: ignore[assignment]
        command = CaseCommand(
            case_id=case.case_id,
            customer_id=case.customer_id,
            action="status" if status else action,  # type: ignore[arg-type]
            by=analyst(),
            at=datetime.now(UTC),
            assignee=(self.assignee.value or "").strip() if action == "assign" else None,
            text=(self.comment.value or "").strip() if action == "comment" else None,
            status=status,
        )
        try:
            changed = apply_command(case, command)  # refuse here what the worker would refuse
            message = (case.customer_id.encode(), command.model_dump_json(exclude_none=True).encode())
            self.feed.send(self.settings.topic_case_commands, [message]).result(timeout=10)
        except CaseError as exc:
            self.status.object = f"**Not done:** {exc}"
            return
        except Exception as exc:  # the broker: shown to the analyst, nothing was sent
            self.status.object = f"**Could not send:** {exc}"
            return
        self.status.object = f"Sent: case {case.case_id[:8]} -> **{changed.status}**" + (
            f", assigned to {changed.assignee}" if action == "assign" else ""
        )
        if changed.status in ("closed_fraud", "closed_not_fraud"):
            self.status.object += " (feedback published for its transactions)"


class RulesPanel:
    """The active and shadow rule sets, and a rules file to publish (validated before anything is sent)."""

    def __init__(self, feed: DashboardFeed, settings: Settings) -> None:
        self.feed, self.settings = feed, settings
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.editor = pn.widgets.TextAreaInput(
            name="Rules file (TOML)", value=DEFAULT_RULES_FILE.read_text(), height=260, sizing_mode="stretch_width"
        )
        self.reason = pn.widgets.TextInput(name="Why", placeholder="required: goes to the audit trail", width=360)
        self.as_shadow = pn.widgets.Checkbox(name="as shadow (counted, never alerts)", value=False)
        self.publish = pn.widgets.Button(name="Publish rules", button_type="primary", width=140)
        self.publish.on_click(lambda _e: self._publish())
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")

    def view(self) -> Any:
        return pn.Column(
            pn.pane.HTML("<h3 style='font-family:sans-serif;margin:4px 0'>Rule sets</h3>"),
            self.summary,
            self.editor,
            pn.Row(self.reason, self.as_shadow, self.publish),
            self.status,
            sizing_mode="stretch_width",
        )

    def refresh(self, tick: Tick) -> None:
        _, _, book = self.feed.operations()
        if book is None:
            return
        active, shadow = book.version_of("active"), book.version_of("shadow")
        published = ", ".join(sorted(book.rule_sets)) or "none yet"
        totals = tick.totals
        live, candidate = totals.quality(), quality_of(totals.family(Family.SHADOW_RULES_QUALITY))
        would_alert = totals.get(SHADOW_RULES_ALERTS)
        text = (
            f"Active **{active}** · shadow **{shadow or 'none'}** · published: {published}\n\n"
            "| set | alerts | precision | recall |\n|---|---:|---:|---:|\n"
            f"| active | {sum(totals.family(Family.ALERTS_SEVERITY).values()):,.0f} | {live.precision:.2f} | "
            f"{live.recall:.2f} |\n"
            f"| shadow (would-be) | {would_alert:,.0f} | {candidate.precision:.2f} | {candidate.recall:.2f} |"
        )
        if text != self.summary.object:  # re-render only on change (this runs four times a second)
            self.summary.object = text

    def _publish(self) -> None:
        reason = (self.reason.value or "").strip()
        if not reason:
            self.status.object = "**Not published:** say why (it goes to the audit trail)."
            return
        try:
            config = rules_config_from_toml(self.editor.value or "")
        except ValueError as exc:
            self.status.object = f"**Not published, the rule set is invalid:** {exc}"
            return
        _, _, book = self.feed.operations()
        if book is None:
            return
        role: Role = "shadow" if self.as_shadow.value else "active"
        who, now = analyst(), datetime.now(UTC)
        audit = change_record(
            "rules", config.rules_version, f"published as {role}", who, now, reason, {"role": role, "via": "dashboard"}
        )
        try:
            self.feed.send(self.settings.topic_rules, publish_messages(book, config, role, who, reason, now)).result(10)
            self.feed.send(self.settings.topic_audit, [audit_message(audit)]).result(timeout=10)
        except Exception as exc:
            self.status.object = f"**Could not publish:** {exc}"
            return
        self.status.object = f"Published **{config.rules_version}** as {role}; every worker switches at its offset."
