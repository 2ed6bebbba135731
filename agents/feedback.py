"""Confirmed outcomes -> customer risk, merchant/terminal risk, and detection-quality counts."""

from __future__ import annotations

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import process_guarded
from agents.metrics import worker_metrics
from agents.shadow_quality import count_shadow_feedback
from agents.state_access import load_merchant_risk, load_reference, save_reference
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.models import Feedback, MerchantRiskUpdate
from detection.quality import outcome_of
from detection.reference import CustomerReference, MerchantRisk
from tables.customers import alerted_transactions
from tables.merchants import merchant_risk

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
    worker_metrics.incr(f"quality.{outcome_of(alerted, feedback.is_fraud)}")
    count_shadow_feedback(feedback)


@app.agent(topics.merchant_risk)
async def update_merchant_risk(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, apply_merchant_risk_update, STAGE)


async def apply_merchant_risk_update(event: faust.EventT[bytes]) -> None:
    update = MerchantRiskUpdate.model_validate_json(event.value)
    risk = load_merchant_risk(update.entity) or MerchantRisk()
    apply_merchant_update(risk, update)
    merchant_risk[update.entity.encode()] = risk.model_dump_json().encode()
