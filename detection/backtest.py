"""Run the detector over transactions in event-time order, as the live agents would.

Reference data is known from the start; each feedback record takes effect once event time
reaches its ``known_at`` (never earlier: no peeking at the future).

With a ``LearningLog`` the backtest learns as the live loop does (detection/learning.py): it runs
in steps to each sync point (every hour by default); there the learner takes the step's decisions (features as scored),
the outcomes known by then, brings terminal/merchant activity up to date and, every
``retrain_every_days``, trains a model that scores from then on (before the first: the rules
alone). A shard's model scores are computed a batch at a time (one numpy call), with the same
model and the same combination as one by one. Shards may run in other processes: they only
exchange ``ShardDay`` rows and the learner's news, so the result does not depend on how many.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from detection.activity import EntityActivity
from detection.engine import Decision, Detector
from detection.feedback import apply_customer_feedback, apply_merchant_update, merchant_risk_updates
from detection.label_delay import LabelDelay
from detection.learning import ActivityNews, LearningLog, ModelNews, ShardDay, apply_news, learn_in_steps
from detection.model import load_model
from detection.models import Feedback, Transaction
from detection.reference import CustomerReference, MerchantRisk, merchant_and_terminal_risk, merchant_key, terminal_key
from detection.sources import ReferenceRecords, apply_reference
from detection.state import CustomerState

#: Decisions scored together by the model in the learning backtest.
BATCH = 4096


@dataclass
class Backtest:
    detector: Detector
    states: dict[str, CustomerState] = field(default_factory=dict)
    references: dict[str, CustomerReference] = field(default_factory=dict)
    merchant_risk: dict[str, MerchantRisk] = field(default_factory=dict)
    #: terminal/merchant activity with the learner's news applied (learning backtests only)
    activity: dict[str, EntityActivity] = field(default_factory=dict)
    #: the label delay learned from the feedback synced so far (learning backtests; None: the rules file's)
    label_delay: LabelDelay | None = None
    _transactions: Sequence[Transaction] = ()
    _next_transaction: int = 0
    _feedback: list[Feedback] = field(default_factory=list)
    _next_feedback: int = 0
    _on_decision: Callable[[Transaction, Decision], None] | None = None
    _batched: bool = False
    #: decided, waiting for the model's part: scored a batch at a time, across sync steps (an hour's
    #: payments are too few for one numpy call to pay off), and always by the model they were decided under
    _unfinished: list[tuple[Transaction, Decision]] = field(default_factory=list)
    #: the cut-off of a model being fitted: decisions from then on wait for it
    _waiting_from: float | None = None

    def load_reference(self, records: ReferenceRecords) -> None:
        apply_reference(self._reference, records)

    def run(
        self,
        transactions: Iterable[Transaction],
        feedback: list[Feedback],
        on_decision: Callable[[Transaction, Decision], None],
        learning: LearningLog | None = None,
    ) -> None:
        """Every transaction in event-time order; with ``learning``, retraining as the live loop does."""
        if learning is not None:
            self.begin(list(transactions), feedback, on_decision)
            learn_in_steps(learning, feedback, lambda until: [self.advance(until)], self.update)
            return
        pending = sorted(feedback, key=lambda f: f.known_at)
        next_feedback = 0
        for transaction in transactions:
            while next_feedback < len(pending) and pending[next_feedback].known_at <= transaction.timestamp:
                self.apply_feedback(pending[next_feedback])
                next_feedback += 1
            on_decision(transaction, self.process(transaction))

    def process(self, transaction: Transaction) -> Decision:
        """Decide one transaction and add it to its customer's state.

        In a learning run (after ``begin``) the model's part waits: ``advance`` scores the batch.
        """
        state = self.states.get(transaction.customer_id)
        if state is None:
            state = self.states[transaction.customer_id] = CustomerState()
        merchant_id, terminal_id = transaction.merchant_id, transaction.terminal_id
        merchant, terminal = merchant_and_terminal_risk(self.merchant_risk.get, merchant_id, terminal_id)
        activity = self.activity
        decision = self.detector.evaluate(
            transaction,
            state,
            self.references.get(transaction.customer_id),
            merchant,
            terminal,
            activity.get(terminal_key(terminal_id)) if terminal_id and activity else None,
            activity.get(merchant_key(merchant_id)) if merchant_id and activity else None,
            label_delay=self.label_delay,
            defer_model=self._batched,
        )
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

    # --- a shard of a learning backtest: steps to each sync point, then takes the learner's news ----
    def begin(
        self,
        transactions: Sequence[Transaction],
        feedback: list[Feedback],
        on_decision: Callable[[Transaction, Decision], None],
    ) -> None:
        """Hold a shard's transactions (event-time order) and every feedback record, for ``advance``."""
        self._transactions, self._next_transaction = transactions, 0
        self._feedback, self._next_feedback = sorted(feedback, key=lambda f: f.known_at), 0
        self._on_decision = on_decision
        self._batched = True

    def advance(self, until: float) -> ShardDay:
        """Decide the transactions before ``until``; return their decisions-log rows for the learner."""
        transactions, feedback = self._transactions, self._feedback
        day = ShardDay()
        step: list[tuple[Transaction, Decision]] = []
        index = self._next_transaction
        while index < len(transactions):
            transaction = transactions[index]
            if transaction.timestamp.timestamp() >= until:
                break
            while (
                self._next_feedback < len(feedback) and feedback[self._next_feedback].known_at <= transaction.timestamp
            ):
                self.apply_feedback(feedback[self._next_feedback])
                self._next_feedback += 1
            step.append((transaction, self.process(transaction)))
            index += 1
        day.add(step)  # the learner's rows need the features as scored, not the model's part
        self._unfinished.extend(step)
        self._next_transaction = index
        done = index >= len(transactions)
        if done or len(self._unfinished) >= BATCH:
            self._finish_unfinished()
        day.next_ts = None if done else transactions[index].timestamp.timestamp()
        return day

    def update(self, news: ActivityNews, model: ModelNews | None, label_delay: LabelDelay) -> None:
        """Take the learner's news: the step's activity, the delay learned so far, and news of a model (its
        fit started: decisions from its cut-off on wait; or it is ready: it scores them and what follows)."""
        apply_news(self.activity, news)
        self.label_delay = label_delay
        if model is None:
            return
        if not model.ready:
            self._waiting_from = model.cutoff
            return
        self._waiting_from = model.cutoff  # decided before it: scored by the model they were decided under
        self._finish_unfinished()
        self._waiting_from = None
        if model.artifact is not None:
            self.detector = self.detector.with_model(load_model(model.artifact))
        if self._next_transaction >= len(self._transactions):
            self._finish_unfinished()

    def _finish_unfinished(self) -> None:
        """Score the waiting decisions with the current model, except those a model being fitted will score."""
        batch = self._unfinished
        if self._waiting_from is not None:
            ready = bisect_left(batch, self._waiting_from, key=lambda item: item[1].features.ts)  # in time order
            batch, self._unfinished = batch[:ready], batch[ready:]
        if not batch:
            return
        self.detector.finish_many([decision for _, decision in batch])
        assert self._on_decision is not None
        for transaction, decision in batch:
            self._on_decision(transaction, decision)
        batch.clear()
