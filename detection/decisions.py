"""The decisions log: what the detector decided about each transaction, as it decided it.

Every decision, alert or not, is one ``DecisionRecord`` (topic fraud.decisions, keyed by
customer_id, kept for the chargeback horizon). It carries the feature vector *as scored*, so
training joins it with labels known at a cut-off and never sees a feature from after the
transaction; and the terminal and merchant, so a chargeback naming only the transaction and
the customer still teaches the terminal's and merchant's risk.

Terminal and merchant activity (transactions and confirmed frauds per UTC hour) is keyed by
entity, not customer: ``activity_deltas`` folds a batch of decisions into one delta per entity,
and the batch's deltas travel as one ``EntityActivityBatch`` record on the one-partition activity
topic. A batch's decisions name about as many terminals and merchants as they hold transactions,
so a record per entity made the activity agent handle more records than the worker decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from pydantic import AwareDatetime, Field, TypeAdapter
from pydantic_core import to_json

from detection.activity import DAY_S, HOUR_S, EntityActivity, hour_of
from detection.engine import Decision
from detection.features import FEATURE_SET
from detection.label_delay import LabelDelay, count_fraud, half_life_s, hours_as_days
from detection.models import Contract, Feedback, Transaction
from detection.reference import merchant_key, terminal_key
from detection.rules_config import Learning
from detection.shadow import ShadowVerdict
from detection.training import LoggedDecision, Outcome


class DecisionRecord(Contract):
    """One decision (topic fraud.decisions, keyed by customer_id)."""

    transaction_id: str
    customer_id: str
    timestamp: AwareDatetime = Field(description="The transaction's event time.")
    terminal_id: str | None = None
    merchant_id: str | None = None
    score: int = Field(ge=0, le=100, description="The 0-100 risk score that decided the alert.")
    alert: bool
    replay: bool = Field(False, description="The transaction was already in the customer's state (a redelivery).")
    rules_version: str
    model_version: str | None = Field(None, description="The champion model that scored it; None = rules only.")
    model_probability: float | None = None
    shadow_version: str | None = Field(None, description="A model scored in shadow: it never alerts.")
    shadow_probability: float | None = None
    shadow_alert: bool | None = Field(None, description="Whether the shadow model, as champion, would have alerted.")
    feature_set: str = Field(
        description="detection.features.feature_set_id: the feature version and the names the vector is aligned "
        "with (records before versions were recorded carry the names' fingerprint alone)."
    )
    feature_vector: list[float] = Field(default_factory=list, description="The model's inputs as scored.")
    label_delay_days: float | None = Field(
        None,
        description="Days (to the hour) before the transaction's hour at which its terminal/merchant risk windows "
        "ended; whole days before its day in records of format 1.",
    )

    @property
    def ts(self) -> float:
        return self.timestamp.timestamp()


def decision_record(
    transaction: Transaction, decision: Decision, rules_version: str, shadow: ShadowVerdict | None = None
) -> DecisionRecord:
    return DecisionRecord(**_decision_fields(transaction, decision, rules_version, shadow))


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    """One decision as the detect batch logs it: the ``DecisionRecord`` JSON for the decisions topic
    (with the vector) and for the decisions table (without), and what the terminal/merchant counts read.

    The live path encodes the record's fields straight from plain data (``pydantic_core.to_json``,
    the encoder ``model_dump_json`` uses): building the model first validated every field and the
    whole vector again: 16-17 us of CPU per decision against 12-13, for the same bytes (bench/RESULTS.md,
    session 11)."""

    transaction_id: str
    ts: float
    terminal_id: str | None
    merchant_id: str | None
    replay: bool
    topic_value: bytes
    table_value: bytes


def decision_entry(
    transaction: Transaction, decision: Decision, rules_version: str, shadow: ShadowVerdict | None = None
) -> DecisionEntry:
    fields = _decision_fields(transaction, decision, rules_version, shadow)
    return DecisionEntry(
        transaction.transaction_id,
        transaction.timestamp.timestamp(),
        transaction.terminal_id,
        transaction.merchant_id,
        decision.duplicate,
        to_json(fields, inf_nan_mode="null"),  # NaN/Infinity as null, as Contract models write them
        to_json(fields, exclude=_WITHOUT_VECTOR, inf_nan_mode="null"),
    )


_WITHOUT_VECTOR = {"feature_vector"}


def _decision_fields(
    transaction: Transaction, decision: Decision, rules_version: str, shadow: ShadowVerdict | None
) -> dict[str, Any]:
    """``DecisionRecord``'s fields, in its order, from one decision."""
    return {
        "transaction_id": transaction.transaction_id,
        "customer_id": transaction.customer_id,
        "timestamp": transaction.timestamp,
        "terminal_id": transaction.terminal_id,
        "merchant_id": transaction.merchant_id,
        "score": decision.score,
        "alert": decision.alert,
        "replay": decision.duplicate,
        "rules_version": rules_version,
        "model_version": decision.model_version,
        "model_probability": decision.model_probability,
        "shadow_version": shadow.version if shadow else None,
        "shadow_probability": shadow.probability if shadow else None,
        "shadow_alert": shadow.alert if shadow else None,
        "feature_set": FEATURE_SET,
        "feature_vector": decision.feature_vector,
        "label_delay_days": hours_as_days(decision.features.label_delay_hours),
    }


class FraudMark(Contract):
    """A confirmed fraud, counted in its transaction's hour."""

    transaction_id: str
    timestamp: AwareDatetime
    known_at: AwareDatetime | None = Field(
        None,
        description="When the fraud became known: set on one entity's mark per fraud (its terminal's, else its "
        "merchant's), which teaches the learned label delay once.",
    )


class EntityActivityDelta(Contract):
    """Counts to add to one terminal's or merchant's activity (topic reference.entity-activity, keyed by entity)."""

    entity: str = Field(description="'terminal:<id>' or 'merchant:<id>'")
    transactions: dict[int, int] = Field(
        default_factory=dict, description="UTC day number -> transactions (format 1 deltas; new ones send hours)"
    )
    hours: dict[int, int] = Field(default_factory=dict, description="UTC hour number -> transactions")
    frauds: list[FraudMark] = Field(default_factory=list)


class EntityActivityBatch(Contract):
    """Several entities' deltas in one record (topic reference.entity-activity): what one decisions-log
    batch or one confirmed fraud adds. Applied in order, as separate records would be."""

    deltas: list[EntityActivityDelta] = Field(min_length=1)


#: A record of the activity topic: a batch, or (written before batches, still applied) one entity's delta.
ActivityRecord = TypeAdapter(EntityActivityBatch | EntityActivityDelta)


def activity_record_deltas(raw: bytes) -> list[EntityActivityDelta]:
    """The deltas an activity-topic record carries, in order; a pydantic ValidationError if it is neither form."""
    record = ActivityRecord.validate_json(raw)
    return record.deltas if isinstance(record, EntityActivityBatch) else [record]


def _entities(terminal_id: str | None, merchant_id: str | None) -> list[str]:
    entities = []
    if terminal_id:
        entities.append(terminal_key(terminal_id))
    if merchant_id:
        entities.append(merchant_key(merchant_id))
    return entities


class Counted(Protocol):
    """What the terminal/merchant counts read of a decision (a ``DecisionRecord`` or a ``DecisionEntry``)."""

    @property
    def ts(self) -> float: ...
    @property
    def terminal_id(self) -> str | None: ...
    @property
    def merchant_id(self) -> str | None: ...
    @property
    def replay(self) -> bool: ...


def activity_deltas(records: Iterable[Counted]) -> list[EntityActivityDelta]:
    """One delta per terminal and merchant with its transactions per hour; replays are not counted again."""
    counts: dict[str, dict[int, int]] = {}
    for record in records:
        if record.replay:
            continue
        hour = hour_of(record.ts)
        for entity in _entities(record.terminal_id, record.merchant_id):
            per_hour = counts.setdefault(entity, {})
            per_hour[hour] = per_hour.get(hour, 0) + 1
    return [EntityActivityDelta(entity=entity, hours=per_hour) for entity, per_hour in counts.items()]


def fraud_deltas(feedback: Feedback, record: DecisionRecord | None) -> list[EntityActivityDelta]:
    """A confirmed fraud for the terminal and merchant of its transaction (found in the decisions log).

    The feedback's own terminal/merchant ids serve when the decision is not (or no longer) known,
    but only with the transaction's time, which only the log has; without it nothing is counted.
    """
    if not feedback.is_fraud or record is None:
        return []
    mark = FraudMark(transaction_id=feedback.transaction_id, timestamp=record.timestamp)
    terminal_id = record.terminal_id or feedback.terminal_id
    merchant_id = record.merchant_id or feedback.merchant_id
    teaching = mark.model_copy(update={"known_at": feedback.known_at})
    return [
        EntityActivityDelta(entity=entity, frauds=[teaching if index == 0 else mark])
        for index, entity in enumerate(_entities(terminal_id, merchant_id))
    ]


def apply_activity_delta(
    activity: EntityActivity, delta: EntityActivityDelta, label_delay: LabelDelay | None = None
) -> bool:
    """Add a delta's transactions and frauds (a fraud already counted is not counted twice); a fraud
    counted for the first time that carries its ``known_at`` teaches ``label_delay``. True if it did."""
    for day, transactions in sorted(delta.transactions.items()):
        activity.add_transaction(day * DAY_S, transactions)
    for hour, transactions in sorted(delta.hours.items()):
        activity.add_transaction(hour * HOUR_S, transactions)
    taught = False
    for mark in delta.frauds:
        known_at = mark.known_at.timestamp() if mark.known_at is not None else None
        before = label_delay.frauds if label_delay is not None else 0
        count_fraud(activity, mark.timestamp.timestamp(), mark.transaction_id, known_at, label_delay)
        taught = taught or (label_delay is not None and label_delay.frauds != before)
    return taught


def fold_activity_record(
    deltas: list[EntityActivityDelta],
    offset: int,
    activity_of: Callable[[str], EntityActivity],
    label_delay: Callable[[], LabelDelay | None],
    learning: Learning,
) -> LabelDelay | None:
    """Fold the activity record at ``offset`` (its deltas, in order), as the table's writer and every worker's
    copy both do.

    An entity whose value already holds this record (``folded_offset`` at or past it) skips its deltas: the
    table's values may be ahead of its applied mark (a writer that died between a batch's values and its
    mark, another writer before a rebalance), and a fold starting from the mark meets those records again.
    An entity's offset moves before its first delta is added, so a record that fails halfway is not added
    again either.

    Returns the label delay the record taught (a new estimate from ``label_delay()``, or from the rules'
    prior when that is None), or None when no fraud carrying its known_at was counted for the first time.
    The estimate given is never changed: a record that fails halfway teaches nothing.
    ``label_delay`` is called only for a record with such a fraud (most records count transactions only).
    """
    teaching = None
    if any(mark.known_at is not None for delta in deltas for mark in delta.frauds):
        known = label_delay()
        half_life = half_life_s(learning)
        teaching = LabelDelay.from_json(known.to_json(), half_life) if known is not None else LabelDelay.of(learning)
    taught = False
    holding: set[str] = set()  # entities whose value held this record before it was folded
    folding: set[str] = set()  # entities this fold added to (a record may name one twice)
    for delta in deltas:
        entity = delta.entity
        if entity in holding:
            continue
        activity = activity_of(entity)
        if entity not in folding:
            if activity.folded_offset >= offset:
                holding.add(entity)
                continue
            activity.folded_offset = offset
            folding.add(entity)
        taught = apply_activity_delta(activity, delta, teaching) or taught
    return teaching if taught else None


class TrainingSet(NamedTuple):
    """The decisions log joined with feedback, ready for ``detection.training.label_examples``."""

    decisions: list[LoggedDecision]
    outcomes: dict[str, Outcome]
    #: Decisions left out because their vector belongs to another feature set (older code).
    other_feature_set: int


def training_set(
    records: Iterable[DecisionRecord], feedback: Iterable[Feedback], *, since: float, cutoff: float
) -> TrainingSet:
    """Decisions of transactions in [since, cutoff] (first decision per transaction: replays are
    not new examples) and, per transaction, the latest outcome known at ``cutoff``."""
    decisions: dict[str, LoggedDecision] = {}
    other = 0
    for record in records:
        ts = record.ts
        if not since <= ts <= cutoff or record.transaction_id in decisions:
            continue
        if record.feature_set != FEATURE_SET:
            other += 1
            continue
        decisions[record.transaction_id] = LoggedDecision(record.transaction_id, ts, record.feature_vector)
    outcomes: dict[str, Outcome] = {}
    for item in feedback:
        known_at = item.known_at.timestamp()
        if known_at > cutoff or item.transaction_id not in decisions:
            continue
        previous = outcomes.get(item.transaction_id)
        if previous is None or previous.known_at <= known_at:
            outcomes[item.transaction_id] = Outcome(item.is_fraud, known_at)
    return TrainingSet(list(decisions.values()), outcomes, other)


def latest_label_delay(records: Iterable[DecisionRecord], cutoff: float) -> float | None:
    """The label delay the latest decision before ``cutoff`` was scored with: what a model trained now assumes."""
    latest: DecisionRecord | None = None
    for record in records:
        if record.label_delay_days is not None and record.ts <= cutoff and (latest is None or record.ts > latest.ts):
            latest = record
    return latest.label_delay_days if latest is not None else None
