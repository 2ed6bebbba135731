"""Alerts open or join cases; analysts' case commands change them; closing one sends feedback.

Both inputs are keyed by customer_id and meet the open_cases table on the customer's partition.
Every change is published to the compacted cases topic (keyed by case_id) and to the audit trail.
"""

from __future__ import annotations

from datetime import datetime

import faust

from agents import topics
from agents.audit import ACTOR, send_audit
from agents.dead_letter import send_to_dead_letter
from agents.guarded import guarded_agent
from agents.metrics import worker_metrics
from agents.tables import open_cases
from detection.alert import Alert
from detection.audit import change_record
from detection.cases import Case, CaseCommand, CaseError, apply_command, feedback_of, open_or_join
from detection.metrics import CASES_ALERT_JOINED, CASES_OPENED, Family, counter
from detection.models import FieldError

STAGE = "cases"


def _open_case(customer_key: bytes) -> Case | None:
    raw = open_cases.get(customer_key)
    return Case.model_validate_json(raw) if raw is not None else None


async def on_alert(event: faust.EventT[bytes]) -> None:
    alert = Alert.model_validate_json(event.value)
    customer_key = alert.customer.customer_id.encode()
    before = _open_case(customer_key)
    case, changed = open_or_join(before, alert)
    if not changed:
        return
    opened = before is None or before.case_id != case.case_id
    action = "opened" if opened else "alert added"
    await _publish(customer_key, case, action, ACTOR, f"alert {alert.alert_id}", alert.detected_at)
    worker_metrics.incr(CASES_OPENED if opened else CASES_ALERT_JOINED)


async def on_command(event: faust.EventT[bytes]) -> None:
    command = CaseCommand.model_validate_json(event.value)
    customer_key = command.customer_id.encode()
    try:
        case = apply_command(_open_case(customer_key), command)
    except CaseError as exc:
        await send_to_dead_letter(event, "case_refused", [FieldError(loc="case_id", msg=str(exc), type="case")], STAGE)
        return
    what = {"assign": f"assigned to {case.assignee}", "comment": "commented", "status": case.status}[command.action]
    await _publish(customer_key, case, what, command.by, command.text, command.at)
    if not case.is_open:
        for feedback in feedback_of(case, command.at):
            await topics.feedback.send(key=customer_key, value=feedback.model_dump_json().encode())
        worker_metrics.incr(counter(Family.CASES, case.status))


open_cases_from_alerts = guarded_agent(topics.alerts, on_alert, STAGE, name="open_cases_from_alerts")
apply_case_commands = guarded_agent(topics.case_commands, on_command, STAGE, name="apply_case_commands")


async def _publish(customer_key: bytes, case: Case, action: str, actor: str, reason: str | None, at: datetime) -> None:
    """The case's new state to the table and the cases topic, and the change to the audit trail (its id
    derives from ``at``, the alert's or command's own time, so a replay rewrites the same record)."""
    value = case.model_dump_json(exclude_none=True).encode()
    if case.is_open:
        open_cases[customer_key] = value
    else:
        open_cases.pop(customer_key, None)
    await topics.cases.send(key=case.case_id.encode(), value=value)
    details = {"status": case.status, "assignee": case.assignee, "alerts": len(case.alerts)}
    await send_audit(change_record("case", case.case_id, action, actor, at, reason, details))
