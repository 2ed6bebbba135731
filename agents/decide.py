"""One transaction against its customer's live state, under the live rules and lists.

The detect agent and the decision API (POST /api/score) both call ``decide``: same state,
same rules version, same list order. Only the caller decides whether the state learns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.live_lists import list_book
from agents.live_rules import live_rules
from agents.state_access import load_reference, load_state, merchant_and_terminal_risk
from config import get_settings
from detection.audit import ShadowOutcome
from detection.engine import Detector
from detection.models import Transaction
from detection.reference import CustomerReference
from detection.state import CustomerState
from detection.verdict import Verdict, judge

settings = get_settings()


@dataclass(slots=True)
class Decided:
    detector: Detector  # the active version this transaction was decided under
    rules_offset: int | None
    state: CustomerState  # as read, before learning this transaction
    reference: CustomerReference | None
    verdict: Verdict
    shadow: ShadowOutcome | None


def decide(transaction: Transaction, *, with_shadow: bool) -> Decided:
    """Read the customer's tables and decide (no await inside: one rules version throughout)."""
    customer_key = transaction.customer_id.encode()
    state = load_state(customer_key, transaction.timestamp.timestamp(), settings.state_ttl_s)
    reference = load_reference(customer_key)
    merchant, terminal = merchant_and_terminal_risk(transaction.merchant_id, transaction.terminal_id)
    detector, offset = live_rules.active, live_rules.active_offset
    decision = detector.evaluate(transaction, state, reference, merchant, terminal)
    shadow = (
        live_rules.run_shadow(transaction, state, reference, merchant, terminal, list_book) if with_shadow else None
    )
    verdict = judge(transaction, decision, list_book, detector.config)
    return Decided(detector, offset, state, reference, verdict, shadow)
