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
from agents.audit import audit_decision
from agents.broadcast import followed
from agents.dead_letter import process_guarded
from agents.decide import decide
from agents.metrics import worker_metrics
from agents.models import live_models
from agents.shadow_quality import remember_shadow_alert
from agents.state_access import save_state
from agents.tables import alerted_transactions
from agents.validate import INGESTED_AT_HEADER
from config import get_settings
from detection.alert import Alert, build_alert
from detection.decisions import decision_record
from detection.engine import Decision
from detection.metrics import Family, counter, decision_counters
from detection.models import Transaction
from detection.shadow import shadow_verdict

settings = get_settings()
STAGE = "detect"
#: Alerts this worker published most recently, newest first, for the read API.
RECENT_ALERTS_KEPT = 1000

recent_alerts: deque[Alert] = deque(maxlen=RECENT_ALERTS_KEPT)


@app.agent(topics.validated_transactions)
async def detect(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, detect_one, STAGE)


async def detect_one(event: faust.EventT[bytes]) -> None:
    transaction = Transaction.model_validate_json(event.value)
    customer_key = transaction.customer_id.encode()
    await followed.ready()  # a (re)started worker decides only once it has read the latest rules and lists
    decided = decide(transaction, with_shadow=True)
    remember_shadow_alert(transaction, decided.shadow)
    detector, decision, verdict = decided.detector, decided.decision, decided.verdict
    learned = detector.learn(decided.state, transaction, decision)
    if learned:
        save_state(customer_key, decided.state)
    _count(transaction, verdict.decision)
    shadow = shadow_verdict(decision, live_models.shadow, detector.config) if live_models.shadow else None
    if shadow is not None and shadow.alert:
        worker_metrics.incr(counter(Family.SHADOW_ALERTS, shadow.version))
    record = decision_record(transaction, verdict.decision, detector.rules_version, shadow)
    await topics.decisions.send(key=customer_key, value=record.model_dump_json().encode())
    await audit_decision(transaction, decided, learned=learned)
    if verdict.listed:
        worker_metrics.incr(counter(Family.LISTS, verdict.listed))
    if not verdict.publish:
        return
    decision, reference = verdict.decision, decided.reference
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
