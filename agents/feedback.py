"""Confirmed outcomes -> customer, terminal and merchant risk, and detection-quality counts.

A chargeback may name only the transaction and the customer: the decisions log (co-partitioned
with feedback by customer) supplies its time, terminal and merchant and how each model scored
it. Feedback for a transaction the log does not know (never scored here, or older than the
chargeback horizon) still counts against the customer, and is counted, logged and dead-lettered
(reason ``unknown_transaction``) so it never vanishes.
"""

from __future__ import annotations

import logging

import faust

from agents import topics
from agents.activity import send_activity
from agents.dead_letter import send_to_dead_letter
from agents.decisions_log import load_decision
from agents.guarded import guarded_agent
from agents.metrics import worker_metrics
from agents.shadow_quality import count_shadow_feedback
from agents.state_access import load_merchant_risk, load_reference, save_reference
from agents.tables import alerted_transactions, merchant_risk
from detection.decisions import DecisionRecord, fraud_deltas
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.metrics import FEEDBACK_UNKNOWN_TRANSACTION, Family, Outcome, counter
from detection.model_quality import RULES_ONLY, judged_counters
from detection.models import Feedback, FieldError, MerchantRiskUpdate
from detection.reference import CustomerReference, MerchantRisk

logger = logging.getLogger(__name__)
STAGE = "feedback"


async def apply_one(event: faust.EventT[bytes]) -> None:
    feedback = Feedback.model_validate_json(event.value)
    customer_key = feedback.customer_id.encode()
    reference = load_reference(customer_key) or CustomerReference()
    if apply_customer_feedback(reference, feedback):
        save_reference(customer_key, reference)
    record = load_decision(feedback.transaction_id)
    if record is not None:  # what the chargeback did not say, the log knows
        feedback = feedback.model_copy(
            update={
                "terminal_id": feedback.terminal_id or record.terminal_id,
                "merchant_id": feedback.merchant_id or record.merchant_id,
            }
        )
    for update in merchant_risk_updates(feedback):
        await topics.merchant_risk.send(key=update.entity.encode(), value=update.model_dump_json().encode())
    await send_activity(fraud_deltas(feedback, record))
    # Detection quality: was this transaction alerted? (Counts once per feedback record.)
    if record is not None:
        alerted = record.alert
    else:
        alerted = alerted_transactions.get(feedback.transaction_id.encode()) is not None
    worker_metrics.incr(counter(Family.QUALITY, Outcome.of(alerted, feedback.is_fraud)))
    count_shadow_feedback(feedback)
    if record is None:
        worker_metrics.incr(FEEDBACK_UNKNOWN_TRANSACTION)
        logger.warning("feedback for %s: not in the decisions log", feedback.transaction_id)
        error = FieldError(loc="transaction_id", msg="no decision logged for this transaction", type="not_found")
        await send_to_dead_letter(event, "unknown_transaction", [error], STAGE)
        return
    count_model_quality(record, feedback.is_fraud)


def count_model_quality(record: DecisionRecord, is_fraud: bool) -> None:
    """Judge the champion's (or the rules') and the shadow's decision on this transaction."""
    champion = record.model_version or RULES_ONLY
    probability = record.model_probability if record.model_probability is not None else record.score / 100
    for name in judged_counters(champion, probability, record.alert, is_fraud):
        worker_metrics.incr(name)
    if record.shadow_version is not None and record.shadow_probability is not None:
        shadow_alerted = bool(record.shadow_alert)
        for name in judged_counters(record.shadow_version, record.shadow_probability, shadow_alerted, is_fraud):
            worker_metrics.incr(name)


async def apply_merchant_risk_update(event: faust.EventT[bytes]) -> None:
    update = MerchantRiskUpdate.model_validate_json(event.value)
    risk = load_merchant_risk(update.entity) or MerchantRisk()
    apply_merchant_update(risk, update)
    merchant_risk[update.entity.encode()] = risk.model_dump_json().encode()


apply_feedback = guarded_agent(topics.feedback, apply_one, STAGE, name="apply_feedback")
update_merchant_risk = guarded_agent(
    topics.merchant_risk, apply_merchant_risk_update, STAGE, name="update_merchant_risk"
)
