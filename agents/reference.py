"""Reference topics (customers, blacklist, credit scores, fraud reports) -> customer_reference table.

An agent writes the table rather than the table reading these topics as its changelog: a
table only tails a changelog it does not own as a standby, so the active worker would never
see new entries (robinhood/faust #541).
"""

from __future__ import annotations

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import process_guarded, send_to_dead_letter
from agents.metrics import worker_metrics
from agents.state_access import load_reference, save_reference
from config import get_settings
from detection.models import BlacklistEntry, CreditScore, Customer, FieldError, FraudReport
from detection.reference import CustomerReference

settings = get_settings()
STAGE = "reference"


@app.agent(topics.reference_data)
async def load_reference_data(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, apply_reference_record, STAGE)


async def apply_reference_record(event: faust.EventT[bytes]) -> None:
    topic, key, value = event.message.topic, event.key, event.value
    if not key:
        await send_to_dead_letter(
            event, "missing_key", [FieldError(loc="key", msg="no customer id key", type="key")], STAGE
        )
        return
    reference = load_reference(key) or CustomerReference()
    if topic == settings.topic_customers:
        reference.profile = Customer.model_validate_json(value) if value else None
    elif topic == settings.topic_blacklist:
        reference.blacklist = BlacklistEntry.model_validate_json(value) if value else None  # null value: delisted
    elif topic == settings.topic_credit_scores:
        reference.credit_score = CreditScore.model_validate_json(value) if value else None
    elif topic == settings.topic_fraud_reports and value:
        reference.add_fraud_report(FraudReport.model_validate_json(value))
    save_reference(key, reference)
    worker_metrics.incr(f"reference.{topic}")
