"""Valid transactions -> a risk decision per transaction -> alerts and decisions topics, in batches.

Two ways in, one function: the validate agent hands over the transactions that arrived on their
customer's partition (so a transaction passes through Faust once), and the ``detect`` agent
reads ``transactions.rekeyed``, where validate puts the rest, keyed by customer. Both call
``detect_transactions``.

Per batch, each customer's state is read once (local, co-partitioned; the customer's reference data
per transaction), the customer's transactions evaluated in order with one detector (a model hot swap never splits a
batch), and the state written once; the records the whole batch produces go to the producer
together when the batch is done (agents.batching). To add an effect of scoring (a case, a
webhook), append a function to ``batch_effects``: it receives the batch's scored transactions
and returns the records to send.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import faust
import pydantic

from agents import topics
from agents.app import app
from agents.audit import audit_decision
from agents.batching import Event, in_partition_of, process_in_batches
from agents.broadcast import followed
from agents.dead_letter import error_of, send_to_dead_letter
from agents.decide import decide
from agents.decisions_log import log_decisions
from agents.fatal import storage_failure
from agents.metrics import worker_metrics
from agents.models import live_models
from agents.shadow_quality import remember_shadow_alert
from agents.state_access import fresh_if_idle, load_state, save_state
from agents.tables import alerted_transactions
from config import get_settings
from detection.alert import Alert, build_alert
from detection.decisions import DecisionEntry, decision_entry
from detection.engine import Decision
from detection.metrics import Family, counter, decision_counters
from detection.models import Transaction
from detection.reference import CustomerReference
from detection.shadow import ShadowVerdict, shadow_verdict
from detection.validation import field_errors
from tables.batched import Outbound, send_with_batch

settings = get_settings()
STAGE = "detect"
#: Alerts this worker published most recently, newest first, for the read API.
RECENT_ALERTS_KEPT = 1000

recent_alerts: deque[Alert] = deque(maxlen=RECENT_ALERTS_KEPT)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A valid transaction and the record it arrived in, which sits on the customer's partition."""

    event: Event
    transaction: Transaction
    ingested_at: datetime | None


@dataclass(frozen=True, slots=True)
class Scored:
    """What detection made of one transaction: the decision, what it saw, its shadow verdict and alert."""

    incoming: Incoming
    decision: Decision
    reference: CustomerReference | None
    logged: DecisionEntry  # for the decisions log (agents.decisions_log) and topic
    alert: Alert | None

    @property
    def customer_key(self) -> bytes:
        return self.incoming.transaction.customer_id.encode()


BatchEffects = Callable[[Sequence[Scored]], Iterable[Outbound]]


def decision_records(batch: Sequence[Scored]) -> Iterator[Outbound]:
    """The decisions topic: every decision with its features as scored, for training."""
    topic = topics.decisions.get_topic_name()
    for scored in batch:
        yield Outbound(topic, scored.customer_key, scored.logged.topic_value)


def alert_records(batch: Sequence[Scored]) -> Iterator[Outbound]:
    topic = topics.alerts.get_topic_name()
    for scored in batch:
        if scored.alert is not None:
            yield Outbound(topic, scored.customer_key, scored.alert.model_dump_json().encode())


#: Every function here turns a scored batch into records to send, in order.
batch_effects: list[BatchEffects] = [decision_records, alert_records]


@app.agent(topics.rekeyed_transactions)
async def detect(stream: faust.StreamT[bytes]) -> None:
    await process_in_batches(
        stream, detect_records, STAGE, max_events=settings.batch_max_events, within_s=settings.batch_within_s
    )


async def detect_records(events: Sequence[Event]) -> None:
    """Parse the records of ``transactions.rekeyed`` and detect; a record that does not parse is dead-lettered."""
    batch: list[Incoming] = []
    for event in events:
        try:
            transaction = Transaction.model_validate_json(event.value)
        except pydantic.ValidationError as exc:
            await send_to_dead_letter(event, "schema", field_errors(exc), STAGE)
            continue
        batch.append(Incoming(event, transaction, ingested_at(event)))
    await detect_transactions(batch)


async def detect_transactions(batch: Sequence[Incoming]) -> list[Scored]:
    """Score a batch: one state read and write per customer, then every effect handed to the outbox."""
    await followed.ready()  # a (re)started worker decides only once it has read the latest rules and lists
    detected_at = datetime.now(UTC)
    scored: list[Scored] = []
    for customer_key, arrivals in _by_customer(batch).items():
        with in_partition_of(arrivals[-1].event):
            scored += await _score_customer(customer_key, arrivals, detected_at)
    log_decisions([(s.incoming.event, s.logged) for s in scored])
    for effects in batch_effects:
        for record in effects(scored):
            send_with_batch(record)
    return scored


def _by_customer(batch: Sequence[Incoming]) -> dict[bytes, list[Incoming]]:
    customers: dict[bytes, list[Incoming]] = {}
    for incoming in batch:
        customers.setdefault(incoming.transaction.customer_id.encode(), []).append(incoming)
    return customers


async def _score_customer(customer_key: bytes, arrivals: list[Incoming], detected_at: datetime) -> list[Scored]:
    """The customer's transactions of this batch in arrival order; must run in their partition's context."""
    state = load_state(customer_key, arrivals[0].transaction.timestamp.timestamp(), settings.state_ttl_s)
    learned_any = False
    scored: list[Scored] = []
    for incoming in arrivals:
        transaction = incoming.transaction
        try:
            state = fresh_if_idle(state, transaction.timestamp.timestamp(), settings.state_ttl_s)
            decided = decide(transaction, with_shadow=True, state=state)  # the state as this batch left it
            remember_shadow_alert(transaction, decided.shadow)
            detector, decision, verdict = decided.detector, decided.decision, decided.verdict
            learned = detector.learn(state, transaction, decision)
            learned_any = learned or learned_any
            shadow = shadow_verdict(decision, live_models.shadow, detector.config) if live_models.shadow else None
            # Queued, not awaited per decision (a broker round trip each); flushed before offsets commit.
            await audit_decision(transaction, decided, learned=learned, wait=False)
            alert = (
                _alert_for(incoming, verdict.decision, decided.reference, detector.rules_version, detected_at)
                if verdict.publish
                else None
            )
        except Exception as exc:  # the core failing on one transaction: only that one goes aside
            if storage_failure(exc) is not None:
                raise  # not the transaction's fault: the batch's guard stops the worker (agents.fatal)
            await send_to_dead_letter(incoming.event, "internal_error", error_of(exc), STAGE)
            continue
        logged = decision_entry(transaction, verdict.decision, detector.rules_version, shadow)
        scored.append(Scored(incoming, verdict.decision, decided.reference, logged, alert))
        _count(transaction, verdict.decision, shadow)
        if verdict.listed:
            worker_metrics.incr(counter(Family.LISTS, verdict.listed))
    if learned_any or scored:
        # Also when every arrival was a replay: the local state may hold them while the changelog does not
        # (a batch stopped after its table writes, before its records were sent), and a redelivery is what
        # brings the changelog, so the partition's next owner, level again.
        save_state(customer_key, state)
    return scored


def _alert_for(
    incoming: Incoming,
    decision: Decision,
    reference: CustomerReference | None,
    rules_version: str,
    detected_at: datetime,
) -> Alert | None:
    if not decision.alert:
        return None
    transaction = incoming.transaction
    alert = build_alert(transaction, decision, reference, rules_version, detected_at, incoming.ingested_at)
    alerted_transactions[transaction.transaction_id.encode()] = alert.alert_id.encode()
    recent_alerts.appendleft(alert)
    if alert.detection_latency_ms is not None:
        worker_metrics.observe_latency(alert.detection_latency_ms)
    return alert


def ingested_at(event: Event) -> datetime | None:
    """When the raw record reached the broker, from the header validate puts on what it forwards."""
    raw = dict(event.headers or {}).get(topics.INGESTED_AT_HEADER)  # a dict or a list of pairs, by Faust version
    return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw else None


def _count(transaction: Transaction, decision: Decision, shadow: ShadowVerdict | None) -> None:
    for name, amount in decision_counters(transaction, decision):
        worker_metrics.incr(name, amount)
    if shadow is not None and shadow.alert:
        worker_metrics.incr(counter(Family.SHADOW_ALERTS, shadow.version))
