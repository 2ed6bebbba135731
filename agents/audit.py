"""Decisions of this worker into the audit trail (changes are audited by the commands that make them)."""

from __future__ import annotations

from datetime import UTC, datetime

from agents import topics
from agents.decide import Decided
from agents.metrics import WORKER_ID
from detection.audit import AuditRecord, audit_key, audit_message, decision_audit_value
from detection.models import Transaction
from tables.batched import Outbound, collecting_batch, send_with_batch

ACTOR = f"worker:{WORKER_ID}"


async def send_audit(record: AuditRecord) -> None:
    key, value = audit_message(record)
    await topics.audit.send(key=key, value=value)


async def audit_decision(
    transaction: Transaction, decided: Decided, *, learned: bool, action: str = "decided", wait: bool = True
) -> None:
    """``wait``: until the producer took the record. Without: inside a batch handler (the stream) the
    record goes out with the batch's other records (agents.batching), elsewhere it is queued in the
    producer's buffer (the decision API answers before it is acknowledged)."""
    value = decision_audit_value(
        transaction,
        decided.verdict,
        rules_version=decided.detector.rules_version,
        rules_offset=decided.rules_offset,
        model_version=decided.decision.model_version,
        learned=learned,
        shadow=decided.shadow,
        actor=ACTOR,
        at=datetime.now(UTC),
        action=action,
    )
    key = audit_key(transaction.transaction_id)
    if wait:
        await topics.audit.send(key=key, value=value)
    elif collecting_batch():
        send_with_batch(Outbound(topics.audit.get_topic_name(), key, value))
    else:
        topics.audit.send_soon(key=key, value=value)
