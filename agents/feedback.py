"""Confirmed outcomes -> customer risk, merchant/terminal risk, and detection-quality counts."""

from __future__ import annotations

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import process_guarded
from agents.metrics import worker_metrics
from agents.state_access import load_merchant_risk, load_reference, save_reference
from agents.tables import alerted_transactions, merchant_risk
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.models import Feedback, MerchantRiskUpdate
from detection.reference import CustomerReference, MerchantRisk

STAGE = "feedback"


@app.agent(topics.feedback)
async def apply_feedback(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, apply_one, STAGE)


async def apply_one(event: faust.EventT[bytes]) -> None:
    feedback = Feedback.model_validate_json(event.value)
    customer_key = feedback.customer_id.encode()
    reference = load_reference(customer_key) or CustomerReference()
    if apply_customer_feedback(reference, feedback):
        save_reference(customer_key, reference)
    for update in merchant_risk_updates(feedback):
        await topics.merchant_risk.send(key=update.entity.encode(), value=update.model_dump_json().encode())
    # Detection quality: was this transaction alerted? (Counts once per feedback record.)
    alerted = alerted_transactions.get(feedback.transaction_id.encode()) is not None
    outcome = {
        (True, True): "true_positive",
        (True, False): "false_positive",
        (False, True): "false_negative",
        (False, False): "true_negative",
    }[(alerted, feedback.is_fraud)]
    worker_metrics.incr(f"quality.{outcome}")


@app.agent(topics.merchant_risk)
async def update_merchant_risk(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, apply_merchant_risk_update, STAGE)


async def apply_merchant_risk_update(event: faust.EventT[bytes]) -> None:
    update = MerchantRiskUpdate.model_validate_json(event.value)
    risk = load_merchant_risk(update.entity) or MerchantRisk()
    apply_merchant_update(risk, update)
    merchant_risk[update.entity.encode()] = risk.model_dump_json().encode()
