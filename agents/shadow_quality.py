"""Precision and recall of a shadow rule set from feedback, counted beside the active set's.

Counters on the metrics topic: ``shadow_rules.quality.<true_positive|false_positive|false_negative|
true_negative>`` next to the active set's ``quality.*`` (detection.quality turns both into
precision and recall). Feedback counts for the shadow only while one runs; a fraud it did not
flag while running counts as its false negative.
"""

from __future__ import annotations

from agents.live_rules import live_rules
from agents.metrics import worker_metrics
from agents.tables import shadow_alerts
from detection.audit import ShadowOutcome
from detection.metrics import Family, Outcome, counter
from detection.models import Feedback, Transaction


def remember_shadow_alert(transaction: Transaction, shadow: ShadowOutcome | None) -> None:
    """Inside the detect agent's stream (a table write)."""
    if shadow is not None and shadow.alert:
        shadow_alerts[transaction.transaction_id.encode()] = shadow.rules_version.encode()


def count_shadow_feedback(feedback: Feedback) -> None:
    shadow = live_rules.shadow
    if shadow is None:
        return
    flagged = shadow_alerts.get(feedback.transaction_id.encode())
    alerted = flagged is not None and flagged.decode() == shadow.rules_version
    worker_metrics.incr(counter(Family.SHADOW_RULES_QUALITY, Outcome.of(alerted, feedback.is_fraud)))
