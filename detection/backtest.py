"""Run the detector over transactions in event-time order, as the live agents would.

Reference data is known from the start; each feedback record takes effect once event time
reaches its ``known_at`` (never earlier: no peeking at the future).

With ``learning`` on, the backtest learns as the live loop does (detection/learning.py): each
UTC midnight, terminal/merchant activity catches up, and every ``retrain_every_days`` a model is
trained from the decisions logged so far joined with the outcomes known at that moment, and
scores from then on (before the first model: the rules alone). Model scores are computed a batch
at a time (one numpy call), with the same model and the same combination as one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from detection.activity import DAY_S
from detection.engine import Decision, Detector
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.learning import LearningLog
from detection.models import Feedback, Transaction
from detection.reference import CustomerReference, MerchantRisk, merchant_and_terminal_risk, merchant_key, terminal_key
from detection.sources import ReferenceRecords, apply_reference
from detection.state import CustomerState
from detection.training import TrainingParams

#: Decisions scored together by the model in the learning backtest.
BATCH = 4096


@dataclass
class Backtest:
    detector: Detector
    states: dict[str, CustomerState] = field(default_factory=dict)
    references: dict[str, CustomerReference] = field(default_factory=dict)
    merchant_risk: dict[str, MerchantRisk] = field(default_factory=dict)
    learning: LearningLog | None = None

    @classmethod
    def learning_from_feedback(cls, detector: Detector, params: TrainingParams | None = None) -> Backtest:
        """A backtest that retrains on its own decisions log and feedback (cold start: rules)."""
        settings = detector.config.learning
        params = params or TrainingParams(target_precision=settings.target_precision, min_frauds=settings.min_frauds)
        return cls(detector, learning=LearningLog(settings, params))

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
        if self.learning is not None:
            self._run_learning(transactions, pending, on_decision)
            return
        for transaction in transactions:
            while next_feedback < len(pending) and pending[next_feedback].known_at <= transaction.timestamp:
                self.apply_feedback(pending[next_feedback])
                next_feedback += 1
            on_decision(transaction, self.process(transaction))

    def _run_learning(
        self,
        transactions: Iterable[Transaction],
        pending: list[Feedback],
        on_decision: Callable[[Transaction, Decision], None],
    ) -> None:
        log = self.learning
        assert log is not None
        every = log.settings.retrain_every_days * DAY_S
        next_feedback = 0
        next_sync = next_retrain = None
        batch: list[tuple[Transaction, Decision]] = []
        for transaction in transactions:
            ts = transaction.timestamp.timestamp()
            if next_sync is None:
                next_sync = (ts // DAY_S + 1) * DAY_S
                next_retrain = next_sync
            if ts >= next_sync:
                self._flush(batch, on_decision)
                while next_feedback < len(pending) and pending[next_feedback].known_at.timestamp() <= next_sync:
                    self.apply_feedback(pending[next_feedback])
                    next_feedback += 1
                log.sync(next_sync)
                assert next_retrain is not None
                if next_sync >= next_retrain:
                    model = log.retrain(next_sync)
                    if model is not None:
                        self.detector = self.detector.with_model(model)
                    next_retrain = next_sync + every
                next_sync = (ts // DAY_S + 1) * DAY_S
            while next_feedback < len(pending) and pending[next_feedback].known_at <= transaction.timestamp:
                self.apply_feedback(pending[next_feedback])
                next_feedback += 1
            batch.append((transaction, self._assess(transaction)))
            if len(batch) >= BATCH:
                self._flush(batch, on_decision)
        self._flush(batch, on_decision)

    def _assess(self, transaction: Transaction) -> Decision:
        """Features, rules and the state update; the model's score waits for the batch."""
        log = self.learning
        assert log is not None
        state = self.states.get(transaction.customer_id)
        if state is None:
            state = self.states[transaction.customer_id] = CustomerState()
        reference = self.references.get(transaction.customer_id)
        merchant_id, terminal_id = transaction.merchant_id, transaction.terminal_id
        merchant = merchant_key(merchant_id) if merchant_id else None
        terminal = terminal_key(terminal_id) if terminal_id else None
        decision = self.detector.assess(
            transaction,
            state,
            reference,
            self.merchant_risk.get(merchant) if merchant else None,
            self.merchant_risk.get(terminal) if terminal else None,
            log.entity(terminal),
            log.entity(merchant),
        )
        self.detector.learn(state, transaction, decision)
        return decision

    def _flush(
        self, batch: list[tuple[Transaction, Decision]], on_decision: Callable[[Transaction, Decision], None]
    ) -> None:
        if not batch:
            return
        assert self.learning is not None
        decisions = [decision for _, decision in batch]
        self.detector.finish_many(decisions)
        self.learning.log(
            [transaction for transaction, _ in batch],
            [decision.features.ts for decision in decisions],
            np.asarray([decision.feature_vector for decision in decisions], dtype=np.float64),
        )
        for transaction, decision in batch:
            on_decision(transaction, decision)
        batch.clear()

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
        if self.learning is not None:
            self.learning.learn_outcome(feedback)
        for update in merchant_risk_updates(feedback):
            apply_merchant_update(self.merchant_risk.setdefault(update.entity, MerchantRisk()), update)

    def _reference(self, customer_id: str) -> CustomerReference:
        reference = self.references.get(customer_id)
        if reference is None:
            reference = self.references[customer_id] = CustomerReference()
        return reference
