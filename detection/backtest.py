"""Run the detector over transactions in event-time order, as the live agents would.

Reference data is known from the start; each feedback record takes effect once event time
reaches its ``known_at`` (never earlier: no peeking at the future).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from detection.engine import Decision, Detector
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.models import Feedback, Transaction
from detection.reference import CustomerReference, MerchantRisk, merchant_and_terminal_risk
from detection.sources import ReferenceRecords, apply_reference
from detection.state import CustomerState


@dataclass
class Backtest:
    detector: Detector
    states: dict[str, CustomerState] = field(default_factory=dict)
    references: dict[str, CustomerReference] = field(default_factory=dict)
    merchant_risk: dict[str, MerchantRisk] = field(default_factory=dict)

    def load_reference(self, records: ReferenceRecords) -> None:
        apply_reference(self._reference, records)

    def run(
        self,
        transactions: Iterable[Transaction],
        feedback: list[Feedback],
        on_decision: Callable[[Transaction, Decision], None],
    ) -> None:
        pending = sorted(feedback, key=lambda f: f.known_at)
        next_feedback = 0
        for transaction in transactions:
            while next_feedback < len(pending) and pending[next_feedback].known_at <= transaction.timestamp:
                self.apply_feedback(pending[next_feedback])
                next_feedback += 1
            on_decision(transaction, self.process(transaction))

    def process(self, transaction: Transaction) -> Decision:
        state = self.states.get(transaction.customer_id)
        if state is None:
            state = self.states[transaction.customer_id] = CustomerState()
        reference = self.references.get(transaction.customer_id)
        merchant, terminal = merchant_and_terminal_risk(
            self.merchant_risk.get, transaction.merchant_id, transaction.terminal_id
        )
        decision = self.detector.evaluate(transaction, state, reference, merchant, terminal)
        self.detector.learn(state, transaction, decision)
        return decision

    def apply_feedback(self, feedback: Feedback) -> None:
        apply_customer_feedback(self._reference(feedback.customer_id), feedback)
        for update in merchant_risk_updates(feedback):
            apply_merchant_update(self.merchant_risk.setdefault(update.entity, MerchantRisk()), update)

    def _reference(self, customer_id: str) -> CustomerReference:
        reference = self.references.get(customer_id)
        if reference is None:
            reference = self.references[customer_id] = CustomerReference()
        return reference
