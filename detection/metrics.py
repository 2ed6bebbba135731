"""Metric names, defined once, and running totals of the workers' metrics snapshots.

A counter is named ``<family>.<label>`` (``alerts.severity.high``, ``dead_letter.not_json``) or
is one of the plain names below. The agents count under these names; the dashboard, the demo
and the notifier's report read them back through the same constants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from enum import StrEnum

from detection.engine import Decision
from detection.models import MetricsSnapshot, Transaction
from detection.quality import Quality

TRANSACTIONS_VALID = "transactions.valid"
TRANSACTIONS_INVALID = "transactions.invalid"
TRANSACTIONS_SCORED = "transactions.scored"
TRANSACTIONS_REPLAYED = "transactions.replayed"
AMOUNT_TOTAL_EUR = "amount.total_eur"
AMOUNT_AT_RISK_EUR = "amount.at_risk_eur"
DECISIONS_LOGGED = "decisions.logged"
FEEDBACK_UNKNOWN_TRANSACTION = "feedback.unknown_transaction"
CASES_OPENED = "cases.opened"
CASES_ALERT_JOINED = "cases.alert_joined"
#: What a shadow rule set saw and would have alerted on (its quality is Family.SHADOW_RULES_QUALITY).
SHADOW_RULES_TRANSACTIONS = "shadow_rules.transactions"
SHADOW_RULES_ALERTS = "shadow_rules.alerts"


class Family(StrEnum):
    """Counter families: the label after the family's name says which one (a country, a rule code ...)."""

    TRANSACTIONS = "transactions"
    TRANSACTIONS_COUNTRY = "transactions.country"
    TRANSACTIONS_CHANNEL = "transactions.channel"
    TRANSACTIONS_DEVICE = "transactions.device"
    ALERTS_SEVERITY = "alerts.severity"
    ALERTS_RULE = "alerts.rule"
    ALERTS_COUNTRY = "alerts.country"
    ALERTS_CHANNEL = "alerts.channel"
    ALERTS_DEVICE = "alerts.device"
    ALERTS_MERCHANT = "alerts.merchant"
    DEAD_LETTER = "dead_letter"
    REFERENCE = "reference"
    QUALITY = "quality"
    NOTIFY = "notify"
    #: Per model version: outcomes from feedback and score bins (detection.model_quality).
    MODEL = "model"
    #: A shadow rule set (docs/operations.md): ``transactions``, ``alerts`` (would-be), and its quality.
    SHADOW_RULES = "shadow_rules"
    SHADOW_RULES_QUALITY = "shadow_rules.quality"
    #: Which list decided (detection.verdict.Listed): allow_list, suppressed, block_list.
    LISTS = "lists"
    #: Decision API answers by decision: allow, review, block.
    DECISION_API = "api.score"
    #: Case changes: opened, alert_joined, closed_fraud, closed_not_fraud.
    CASES = "cases"
    #: Live rule switches by role: active, shadow.
    RULES_SWITCHED = "rules.switched"
    #: Per shadow model version: transactions it would have alerted on.
    SHADOW_ALERTS = "shadow_alerts"
    #: The model registry on a worker (ModelCount).
    MODELS = "models"
    #: A customer's stored state in an older or unreadable layout (detection.state.decode_state's change).
    STATE = "state"


class Outcome(StrEnum):
    """Labels of the quality family: what confirmed feedback says about an alert (or its absence)."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    FALSE_NEGATIVE = "false_negative"
    TRUE_NEGATIVE = "true_negative"

    @classmethod
    def of(cls, alerted: bool, is_fraud: bool) -> Outcome:
        if alerted:
            return cls.TRUE_POSITIVE if is_fraud else cls.FALSE_POSITIVE
        return cls.FALSE_NEGATIVE if is_fraud else cls.TRUE_NEGATIVE


class ModelCount(StrEnum):
    """Labels of the models family: what became of a model on a worker."""

    INCOMPATIBLE = "incompatible"
    RETRAINED = "retrained"
    RETRAIN_SKIPPED = "retrain_skipped"
    RETRAIN_FAILED = "retrain_failed"


class SinkEvent(StrEnum):
    """What a sink (email, webhook, ...) counts, as ``notify.<sink>.<event>``."""

    SENT = "sent"
    RETRIES = "retries"
    REQUEUED = "requeued"
    DEFERRED = "deferred_to_digest"
    DIGESTS_SENT = "digests_sent"
    DIGESTS_REFUSED = "digests_refused"
    UNDELIVERABLE = "undeliverable"


def sink_counter(sink: str, event: SinkEvent, detail: str | None = None) -> str:
    """e.g. sink_counter('email', SinkEvent.SENT) == 'notify.email.sent'; undeliverable ones add the reason."""
    name = f"{Family.NOTIFY.value}.{sink}.{event.value}"
    return f"{name}.{detail}" if detail else name


def decision_counters(transaction: Transaction, decision: Decision) -> list[tuple[str, float]]:
    """What one scored transaction adds to the counters: (name, amount) pairs."""
    device = "new" if decision.features.new_device else "known"
    counts: list[tuple[str, float]] = [
        (TRANSACTIONS_SCORED, 1),
        (AMOUNT_TOTAL_EUR, decision.features.amount_eur),
        (counter(Family.TRANSACTIONS_DEVICE, device), 1),
    ]
    if transaction.country:
        counts.append((counter(Family.TRANSACTIONS_COUNTRY, transaction.country), 1))
    if transaction.channel:
        counts.append((counter(Family.TRANSACTIONS_CHANNEL, transaction.channel), 1))
    if decision.duplicate:
        counts.append((TRANSACTIONS_REPLAYED, 1))
    if not decision.alert:
        return counts
    counts += [
        (counter(Family.ALERTS_SEVERITY, decision.severity), 1),
        (AMOUNT_AT_RISK_EUR, decision.features.amount_eur),
        (counter(Family.ALERTS_DEVICE, device), 1),
    ]
    counts += [(counter(Family.ALERTS_RULE, reason.code), 1) for reason in decision.reasons]
    if transaction.country:
        counts.append((counter(Family.ALERTS_COUNTRY, transaction.country), 1))
    if transaction.channel:
        counts.append((counter(Family.ALERTS_CHANNEL, transaction.channel), 1))
    if transaction.merchant_id:
        counts.append((counter(Family.ALERTS_MERCHANT, transaction.merchant_id), 1))
    return counts


def counter(family: Family, label: str) -> str:
    """The full counter name of ``label`` in ``family``."""
    return f"{family.value}.{label}"


def family_of(counters: Mapping[str, float], family: Family) -> dict[str, float]:
    """Counters of ``family`` with the family's name removed: label -> value."""
    prefix = family.value + "."
    cut = len(prefix)
    return {name[cut:]: value for name, value in counters.items() if name.startswith(prefix)}


class MetricsTotals:
    """Sums of every counter over all workers since the feed started."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.last: MetricsSnapshot | None = None

    def add(self, snapshot: MetricsSnapshot) -> None:
        self.counters.update(snapshot.counters)
        self.last = snapshot

    def family(self, family: Family) -> dict[str, float]:
        """Counters of ``family`` with the family's name removed, e.g. family(Family.DEAD_LETTER)."""
        return family_of(self.counters, family)

    def get(self, name: str) -> float:
        return float(self.counters.get(name, 0.0))

    def quality(self) -> Quality:
        """Alert quality from the analysts' and chargebacks' confirmed outcomes counted so far."""
        return quality_of(self.family(Family.QUALITY))


def quality_of(outcomes: Mapping[str, float]) -> Quality:
    """Alert quality from outcome counts (Outcome label -> count)."""
    return Quality(
        true_positives=int(outcomes.get(Outcome.TRUE_POSITIVE, 0)),
        false_positives=int(outcomes.get(Outcome.FALSE_POSITIVE, 0)),
        false_negatives=int(outcomes.get(Outcome.FALSE_NEGATIVE, 0)),
    )
