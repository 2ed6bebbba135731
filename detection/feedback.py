"""What a confirmed outcome changes: the customer's risk, and the merchant's and terminal's."""

from __future__ import annotations

from detection.models import Feedback, MerchantRiskUpdate
from detection.reference import CustomerReference, MerchantRisk, merchant_key, terminal_key


def apply_customer_feedback(reference: CustomerReference, feedback: Feedback) -> bool:
    """A confirmed fraud counts against the customer like a fraud report; True when it changed anything."""
    if not feedback.is_fraud:
        return False
    before = len(reference.confirmed_frauds)
    reference.add_confirmed_fraud(feedback.known_at.timestamp(), feedback.transaction_id)
    return len(reference.confirmed_frauds) != before


def merchant_risk_updates(feedback: Feedback) -> list[MerchantRiskUpdate]:
    """One update per merchant and terminal involved in a confirmed fraud."""
    if not feedback.is_fraud:
        return []
    entities = []
    if feedback.merchant_id:
        entities.append(merchant_key(feedback.merchant_id))
    if feedback.terminal_id:
        entities.append(terminal_key(feedback.terminal_id))
    return [
        MerchantRiskUpdate(entity=e, is_fraud=True, known_at=feedback.known_at, transaction_id=feedback.transaction_id)
        for e in entities
    ]


def apply_merchant_update(risk: MerchantRisk, update: MerchantRiskUpdate) -> None:
    if update.is_fraud:
        risk.add_confirmed_fraud(update.known_at.timestamp(), update.transaction_id)
