"""Cases for analysts: an alert opens one (or joins the customer's open case); analysts assign,
comment and move it open -> investigating -> closed as fraud / not fraud; closing yields the
feedback records that close the learning loop. Pure functions over the contracts below.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from detection.alert import Alert
from detection.ids import stable_id
from detection.models import Contract, Feedback, NonEmpty

CaseStatus = Literal["open", "investigating", "closed_fraud", "closed_not_fraud"]
CLOSED: frozenset[str] = frozenset({"closed_fraud", "closed_not_fraud"})
#: Allowed moves; a closed case stays closed (a new alert opens a new case).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"investigating", "closed_fraud", "closed_not_fraud"}),
    "investigating": frozenset({"closed_fraud", "closed_not_fraud"}),
}
CASE_ID_NAMESPACE = uuid.UUID("a4c2e3f1-6b7d-4e8f-9a0b-1c2d3e4f5a6b")
MAX_ALERTS_PER_CASE = 200


class CaseError(ValueError):
    """A case change that cannot be made (unknown case, closed case, a move not allowed)."""


class CaseComment(Contract):
    at: AwareDatetime
    by: NonEmpty
    text: str = Field(min_length=1)


class CaseAlert(Contract):
    alert_id: str
    transaction_id: str
    score: int
    severity: str
    reasons: list[str]
    detected_at: AwareDatetime
    merchant_id: str | None = None
    terminal_id: str | None = None


class Case(Contract):
    """One case (topic fraud.cases, compacted, keyed by case_id: the latest state of every case)."""

    case_id: str
    customer_id: NonEmpty
    status: CaseStatus = "open"
    assignee: str | None = None
    alerts: list[CaseAlert]
    comments: list[CaseComment] = Field(default_factory=list)
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    closed_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED

    @property
    def max_score(self) -> int:
        return max((a.score for a in self.alerts), default=0)


class CaseCommand(Contract):
    """An analyst's change (topic fraud.case-commands, keyed by customer_id so it meets the case's partition)."""

    case_id: str
    customer_id: NonEmpty
    action: Literal["assign", "comment", "status"]
    by: NonEmpty
    at: AwareDatetime
    assignee: str | None = None
    text: str | None = None
    status: CaseStatus | None = None


def case_alert(alert: Alert) -> CaseAlert:
    return CaseAlert(
        alert_id=alert.alert_id,
        transaction_id=alert.transaction.transaction_id,
        score=alert.score,
        severity=alert.severity,
        reasons=[r.code for r in alert.reasons],
        detected_at=alert.detected_at,
        merchant_id=alert.transaction.merchant_id,
        terminal_id=alert.transaction.terminal_id,
    )


def open_or_join(open_case: Case | None, alert: Alert) -> tuple[Case, bool]:
    """The customer's open case with this alert in it; True when it changed (a replayed alert does not)."""
    if open_case is not None and open_case.is_open:
        if any(a.alert_id == alert.alert_id for a in open_case.alerts):
            return open_case, False
        alerts = [*open_case.alerts, case_alert(alert)][-MAX_ALERTS_PER_CASE:]
        return open_case.model_copy(update={"alerts": alerts, "updated_at": alert.detected_at}), True
    case_id = stable_id(CASE_ID_NAMESPACE, f"{alert.customer.customer_id}|{alert.alert_id}")
    case = Case(
        case_id=case_id,
        customer_id=alert.customer.customer_id,
        alerts=[case_alert(alert)],
        opened_at=alert.detected_at,
        updated_at=alert.detected_at,
    )
    return case, True


def apply_command(case: Case | None, command: CaseCommand) -> Case:
    if case is None or case.case_id != command.case_id:
        raise CaseError(f"case {command.case_id} is not an open case of customer {command.customer_id}")
    if not case.is_open:
        raise CaseError(f"case {case.case_id} is closed ({case.status})")
    update: dict[str, object] = {"updated_at": command.at}
    if command.action == "assign":
        update["assignee"] = command.assignee or None
    elif command.action == "comment":
        if not command.text:
            raise CaseError("a comment needs text")
        update["comments"] = [*case.comments, CaseComment(at=command.at, by=command.by, text=command.text)]
    else:
        if command.status is None or command.status not in TRANSITIONS.get(case.status, frozenset()):
            raise CaseError(f"case {case.case_id}: {case.status} -> {command.status} is not allowed")
        update["status"] = command.status
        if command.status in CLOSED:
            update["closed_by"] = command.by
    return case.model_copy(update=update)


def feedback_of(case: Case, closed_at: datetime) -> list[Feedback]:
    """The analysts' verdict on every alerted transaction of a closed case."""
    if case.is_open:
        return []
    return [
        Feedback(
            transaction_id=a.transaction_id,
            is_fraud=case.status == "closed_fraud",
            known_at=closed_at,
            source="analyst",
            customer_id=case.customer_id,
            merchant_id=a.merchant_id,
            terminal_id=a.terminal_id,
            alert_id=a.alert_id,
        )
        for a in case.alerts
    ]


def select_cases(
    cases: list[Case], status: str | None = None, assignee: str | None = None, customer: str | None = None
) -> tuple[list[Case], int]:
    """Filtered (status 'closed' means either closed status), newest change first; with how many matched."""
    matched = [
        c
        for c in cases
        if (status is None or c.status == status or (status == "closed" and not c.is_open))
        and (assignee is None or c.assignee == assignee)
        and (customer is None or c.customer_id == customer)
    ]
    matched.sort(key=lambda c: c.updated_at, reverse=True)
    return matched, len(matched)
