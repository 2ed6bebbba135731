"""validated transactions -> risk decision per transaction -> alerts topic.

One pass per transaction: read the customer's state and reference data (local, co-partitioned),
call the detection core, write the state once, publish an alert when the score is high enough.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import process_guarded
from agents.decisions_log import load_activity
from agents.metrics import worker_metrics
from agents.models import live_models
from agents.state_access import load_reference, load_state, merchant_and_terminal_risk, save_state
from agents.tables import alerted_transactions
from agents.validate import INGESTED_AT_HEADER
from config import get_settings
from detection.alert import Alert, build_alert
from detection.decisions import decision_record
from detection.engine import Decision
from detection.metrics import decision_counters
from detection.models import Transaction
from detection.reference import merchant_key, terminal_key
from detection.shadow import shadow_verdict

settings = get_settings()
STAGE = "detect"
#: Alerts this worker published most recently, newest first, for the read API.
RECENT_ALERTS_KEPT = 1000

recent_alerts: deque[Alert] = deque(maxlen=RECENT_ALERTS_KEPT)


@app.agent(topics.validated_transactions)
async def detect(stream: faust.StreamT[bytes]) -> None:
    await live_models.wait_ready(settings.models_wait_s)  # a restarted worker scores with the latest champion
    await process_guarded(stream, detect_one, STAGE)


async def detect_one(event: faust.EventT[bytes]) -> None:
    transaction = Transaction.model_validate_json(event.value)
    customer_key = transaction.customer_id.encode()
    state = load_state(customer_key, transaction.timestamp.timestamp(), settings.state_ttl_s)
    reference = load_reference(customer_key)
    merchant, terminal = merchant_and_terminal_risk(transaction.merchant_id, transaction.terminal_id)
    terminal_activity = load_activity(terminal_key(transaction.terminal_id)) if transaction.terminal_id else None
    merchant_activity = load_activity(merchant_key(transaction.merchant_id)) if transaction.merchant_id else None

    detector = live_models.detector  # one read per transaction: a hot swap never splits a decision
    decision = detector.evaluate(
        transaction, state, reference, merchant, terminal, terminal_activity, merchant_activity
    )
    if detector.learn(state, transaction, decision):
        save_state(customer_key, state)
    _count(transaction, decision)
    shadow = shadow_verdict(decision, live_models.shadow, detector.config) if live_models.shadow else None
    if shadow is not None and shadow.alert:
        worker_metrics.incr(f"shadow_alerts.{shadow.version}")
    record = decision_record(transaction, decision, detector.rules_version, shadow)
    await topics.decisions.send(key=customer_key, value=record.model_dump_json().encode())
    if not decision.alert:
        return
    detected_at = datetime.now(UTC)
    alert = build_alert(transaction, decision, reference, detector.rules_version, detected_at, _ingested_at(event))
    await topics.alerts.send(key=customer_key, value=alert.model_dump_json().encode())
    alerted_transactions[transaction.transaction_id.encode()] = alert.alert_id.encode()
    recent_alerts.appendleft(alert)
    if alert.detection_latency_ms is not None:
        worker_metrics.observe_latency(alert.detection_latency_ms)


def _ingested_at(event: faust.EventT[bytes]) -> datetime | None:
    raw = dict(event.headers or {}).get(INGESTED_AT_HEADER)  # a dict or a list of pairs, by Faust version
    return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw else None


def _count(transaction: Transaction, decision: Decision) -> None:
    for name, amount in decision_counters(transaction, decision):
        worker_metrics.incr(name, amount)
