"""The audit trail: who did what, when and why, for every decision and every change.

Records go to the audit topic (keyed by subject, retained ``audit_retention_days``, 400 by
default). ``fraudwatch audit TX`` reads them back and ``explain`` turns a decision into words.
Ids are uuid5 of what the record is about, so a replayed decision writes the same record again
(at-least-once) and readers keep one per id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field
from pydantic_core import to_json

from detection.decision_bands import Action
from detection.ids import stable_id
from detection.models import Contract, NonEmpty, Reason, Transaction
from detection.verdict import Listed, Verdict

AuditKind = Literal["decision", "rules", "list", "case", "model"]
AUDIT_ID_NAMESPACE = uuid.UUID("0b7a1d4e-3c55-4d7e-8f0a-5e2b9c6d1a77")


class ShadowOutcome(Contract):
    rules_version: str
    score: int
    alert: bool


class DecisionDetails(Contract):
    """Everything that decided one transaction, as it was at that moment."""

    transaction: Transaction
    score: int
    severity: str
    action: Action
    alert_published: bool
    listed: Listed | None = None
    list_entries: list[str] = Field(default_factory=list, description="Keys of list entries in effect.")
    reasons: list[Reason]
    anomaly: float
    features: dict[str, Any]
    rules_version: str
    rules_offset: int | None = Field(None, description="Offset of the rules topic this version was switched at.")
    model_version: str | None = None
    learned: bool = Field(description="The transaction went into the customer's state.")
    shadow: ShadowOutcome | None = None


class AuditRecord(Contract):
    audit_id: str
    kind: AuditKind
    subject: NonEmpty = Field(description="Transaction id, rules version, list entry key, case id or model version.")
    action: NonEmpty = Field(description="decided, published, activated, shadowed, added, removed, opened, ...")
    actor: NonEmpty = Field(description="Who: a person (--by) or the worker 'worker:<host>:<pid>'.")
    at: AwareDatetime
    reason: str | None = Field(None, description="Why, in the actor's words.")
    details: dict[str, Any] = Field(default_factory=dict, description="What changed (the new value).")
    decision: DecisionDetails | None = None


def audit_id_for(kind: str, subject: str, action: str, version: str) -> str:
    return stable_id(AUDIT_ID_NAMESPACE, f"{kind}|{subject}|{action}|{version}")


def change_record(
    kind: AuditKind, subject: str, action: str, actor: str, at: datetime, reason: str | None, details: dict[str, Any]
) -> AuditRecord:
    return AuditRecord(
        audit_id=audit_id_for(kind, subject, action, at.isoformat()),
        kind=kind,
        subject=subject,
        action=action,
        actor=actor,
        at=at,
        reason=reason,
        details=details,
    )


def decision_audit_value(
    transaction: Transaction,
    verdict: Verdict,
    *,
    rules_version: str,
    rules_offset: int | None,
    model_version: str | None,
    learned: bool,
    shadow: ShadowOutcome | None,
    actor: str,
    at: datetime,
    action: str = "decided",
) -> bytes:
    """The audit topic's value of a decision: the ``AuditRecord`` JSON ``audit_message`` writes (same
    fields, order, omitted nulls and bytes), encoded from plain data in one ``pydantic_core.to_json``.
    A profile of a loaded worker put building the ``AuditRecord`` (validating every nested field) and
    its ``model_dump_json`` at 9 % of its samples: 30-32 us of CPU per decision against 21 here
    (bench/RESULTS.md, session 11)."""
    decision = verdict.decision
    reasons = decision.reasons
    record: dict[str, Any] = {
        "audit_id": audit_id_for("decision", transaction.transaction_id, action, rules_version),
        "kind": "decision",
        "subject": transaction.transaction_id,
        "action": action,
        "actor": actor,
        "at": at,
    }
    if reasons:
        record["reason"] = ", ".join(r.code for r in reasons)
    record["details"] = {}
    details: dict[str, Any] = {
        "transaction": transaction,
        "score": decision.score,
        "severity": decision.severity.value,  # a plain str: an enum costs the encoder 1 us to recognise
        "action": verdict.action,
        "alert_published": verdict.publish,
    }
    if verdict.listed is not None:
        details["listed"] = verdict.listed
    details["list_entries"] = [entry.key for entry in verdict.matched]
    details["reasons"] = reasons
    details["anomaly"] = round(decision.anomaly, 4)
    details["features"] = decision.features.as_dict()
    details["rules_version"] = rules_version
    if rules_offset is not None:
        details["rules_offset"] = rules_offset
    if model_version is not None:
        details["model_version"] = model_version
    details["learned"] = learned
    if shadow is not None:
        details["shadow"] = shadow
    record["decision"] = details
    # exclude_none reaches the models inside (the transaction's unset fields), not the dicts' values:
    # as the model's own encoding does; NaN/Infinity as null, as ``Contract`` models write them.
    return to_json(record, exclude_none=True, inf_nan_mode="null")


def explain(record: AuditRecord) -> str:
    """A decision in words: what was decided, under which versions, and why."""
    d = record.decision
    if d is None:
        why = f": {record.reason}" if record.reason else ""
        return f"{record.at.isoformat()} {record.actor} {record.action} {record.kind} {record.subject}{why}"
    tx = d.transaction
    lines = [
        f"transaction {tx.transaction_id} of customer {tx.customer_id}: {tx.amount} {tx.currency} "
        f"at {tx.timestamp.isoformat()}",
        f"decision {d.action.upper()} - score {d.score} ({d.severity}), "
        f"alert {'published' if d.alert_published else 'not published'}"
        + (f", by the {d.listed.replace('_', ' ')}" if d.listed else ""),
        f"decided at {record.at.isoformat()} by {record.actor}",
        f"rules version {d.rules_version}"
        + (f" (switched to at rules offset {d.rules_offset})" if d.rules_offset is not None else " (rules file)")
        + f"; model {d.model_version or 'none'}",
    ]
    lines += [f"  reason {r.code} (weight {r.weight}): {r.description}" for r in d.reasons] or ["  no rule fired"]
    lines.append(f"  anomaly score {d.anomaly}")
    lines += [f"  list entry in effect: {key}" for key in d.list_entries]
    if d.shadow is not None:
        lines.append(
            f"  shadow rules {d.shadow.rules_version}: score {d.shadow.score}, "
            f"{'would alert' if d.shadow.alert else 'would not alert'}"
        )
    lines.append("  features: " + ", ".join(f"{k}={v}" for k, v in d.features.items()))
    lines.append(f"  learned into the customer's state: {'yes' if d.learned else 'no'}")
    return "\n".join(lines)


def audit_message(record: AuditRecord) -> tuple[bytes, bytes]:
    """Key and value on the audit topic."""
    return audit_key(record.subject), record.model_dump_json(exclude_none=True).encode()


def audit_key(subject: str) -> bytes:
    """The audit topic's key: the subject, so one subject's records keep their order."""
    return subject.encode()
