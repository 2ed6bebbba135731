"""One transaction against its customer's live state, under the live rules and lists.

The detect agent and the decision API (POST /api/score) both call ``decide``: same state,
same rules version, same list order. Only the caller decides whether the state learns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.activity import learned_label_delay, load_activity
from agents.live_lists import list_book
from agents.live_rules import live_rules
from agents.models import live_models
from agents.state_access import load_reference, load_state, merchant_and_terminal_risk
from config import get_settings
from detection.audit import ShadowOutcome
from detection.engine import Decision, Detector
from detection.models import Transaction
from detection.reference import CustomerReference, merchant_key, terminal_key
from detection.state import CustomerState
from detection.verdict import DecisionContext, Verdict, judge

settings = get_settings()


@dataclass(slots=True)
class Decided:
    detector: Detector  # the live detector (active rules + champion) this transaction was decided under
    rules_offset: int | None
    state: CustomerState  # as read, before learning this transaction
    reference: CustomerReference | None
    decision: Decision  # the detector's own decision
    verdict: Verdict  # ... after the lists
    shadow: ShadowOutcome | None  # a shadow rule set's would-be decision


def decide(transaction: Transaction, *, with_shadow: bool, state: CustomerState | None = None) -> Decided:
    """Read the customer's tables and decide (no await inside: one rules version throughout).

    ``state``: the customer's state as the caller holds it (the batched detect agent reads it once
    per batch); by default it is read from the table."""
    customer_key = transaction.customer_id.encode()
    merchant, terminal = merchant_and_terminal_risk(transaction.merchant_id, transaction.terminal_id)
    context = DecisionContext(
        state=state
        if state is not None
        else load_state(customer_key, transaction.timestamp.timestamp(), settings.state_ttl_s),
        reference=load_reference(customer_key),
        merchant=merchant,
        terminal=terminal,
        terminal_activity=load_activity(terminal_key(transaction.terminal_id)) if transaction.terminal_id else None,
        merchant_activity=load_activity(merchant_key(transaction.merchant_id)) if transaction.merchant_id else None,
        label_delay=learned_label_delay(),
    )
    detector, offset = live_models.detector, live_rules.active_offset
    decision = context.evaluate(detector, transaction)
    shadow = live_rules.run_shadow(transaction, context, list_book) if with_shadow else None
    verdict = judge(transaction, decision, list_book, detector.config)
    return Decided(detector, offset, context.state, context.reference, decision, verdict, shadow)
