"""The learning loop's data in the backtest: decisions log, outcomes, terminal/merchant activity, retraining.

It does in memory what the live system does with topics and tables, with the same core calls:
every decision is logged with its feature vector as scored; feedback (which may name only the
transaction and the customer) finds the terminal and merchant in that log; terminal and merchant
activity is brought up to date every ``activity_sync_hours`` (default each hour: the risk windows
end at the label delay counted in hours, so a window is complete at each hour's start, as live
where the table catches up continuously); on a schedule in event time (at UTC midnights, every
``retrain_every_days``) a model is trained from the log joined with the outcomes known at that
moment, and used from then on.

A model changes no feature, only the score of the decisions after its cut-off, so its fit may run
while the shards decide on (``learn_in_steps``' ``submit``): they keep those decisions unscored until
the model arrives (``ModelNews``), and the result is the same as waiting for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.activity import DAY_S, HOUR_S, KEPT_DAYS, EntityActivity
from detection.label_delay import LabelDelay, count_fraud, hours_as_days
from detection.model import ModelArtifact, load_model
from detection.models import Feedback
from detection.reference import merchant_key, terminal_key
from detection.rules_config import Learning
from detection.training import (
    NotEnoughLabelsError,
    Outcome,
    TrainingParams,
    label_maturity_s,
    train_arrays,
    training_params,
    training_start,
)

if TYPE_CHECKING:
    from detection.engine import Decision
    from detection.models import Transaction


@dataclass
class ShardDay:
    """A shard's decisions-log rows for one step (features as scored), and when its next transaction is."""

    transaction_ids: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    terminals: list[str | None] = field(default_factory=list)
    merchants: list[str | None] = field(default_factory=list)
    next_ts: float | None = None

    def add(self, batch: list[tuple[Transaction, Decision]]) -> None:
        for transaction, decision in batch:
            self.transaction_ids.append(transaction.transaction_id)
            self.times.append(decision.features.ts)
            self.vectors.append(decision.feature_vector)
            self.terminals.append(terminal_key(transaction.terminal_id) if transaction.terminal_id else None)
            self.merchants.append(merchant_key(transaction.merchant_id) if transaction.merchant_id else None)


@dataclass
class ActivityNews:
    """What one sync step adds to terminal/merchant activity: the step's payments and the confirmed frauds
    found in the log. The learner and every shard apply it to their own copy (``apply_news``): only these
    rows cross between processes, not the changed entities (pickled each hour, they made two workers slower
    than one, bench/RESULTS.md session 8)."""

    #: (time, terminal key, merchant key) of each payment
    transactions: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    #: (payment time, transaction id, terminal and merchant keys, when it was known) of each fraud
    frauds: list[tuple[float, str, tuple[str, ...], float | None]] = field(default_factory=list)


def apply_news(activity: dict[str, EntityActivity], news: ActivityNews, label_delay: LabelDelay | None = None) -> None:
    """Count the step's payments and frauds; an entity not seen yet counts no fraud. The first entity of a fraud
    teaches ``label_delay`` (the learner's; shards pass None and are handed the learner's estimate), as the live
    path's mark does."""
    for ts, terminal, merchant in news.transactions:
        for key in (terminal, merchant):
            if key is not None:
                entity = activity.get(key)
                if entity is None:
                    entity = activity[key] = EntityActivity()
                entity.add_transaction(ts)
    for ts, transaction_id, keys, known_at in news.frauds:
        present = [key for key in keys if key in activity]
        for index, key in enumerate(present):
            count_fraud(activity[key], ts, transaction_id, known_at if index == 0 else None, label_delay)


@dataclass(frozen=True)
class ModelNews:
    """A retraining at ``cutoff``: announced when it starts (``ready`` False: decisions from the cut-off on wait
    for it), then its model (None: not enough labels, the current model scores on)."""

    cutoff: float
    ready: bool
    artifact: ModelArtifact | None = None


#: Runs a fit: at once (the default) or in the background (e.g. a thread pool's ``submit``).
Submit = Callable[[Callable[[], "ModelArtifact | None"]], "Future[ModelArtifact | None]"]


def run_now(fit: Callable[[], ModelArtifact | None]) -> Future[ModelArtifact | None]:
    """Fit in the caller's thread: the model is ready when the step's news goes out."""
    done: Future[ModelArtifact | None] = Future()
    done.set_result(fit())
    return done


@dataclass
class LoggedChunk:
    """Decisions scored together: their transactions' ids and times and their feature vectors (rows)."""

    transaction_ids: list[str]
    times: np.ndarray[Any, Any]
    vectors: np.ndarray[Any, Any]


@dataclass(frozen=True)
class LabelledLog:
    """Logged decisions (rows, in time order) with their labels as known at a cut-off."""

    transaction_ids: list[str]
    vectors: np.ndarray[Any, Any]
    labels: np.ndarray[Any, Any]
    times: np.ndarray[Any, Any]
    #: when each label was known; after the cut-off for a row whose label was not known yet
    known_at: np.ndarray[Any, Any]


@dataclass
class LearningLog:
    settings: Learning
    params: TrainingParams
    chunks: deque[LoggedChunk] = field(default_factory=deque)
    #: transaction_id -> (time, terminal key, merchant key), kept as long as activity keeps days
    where: dict[str, tuple[float, str | None, str | None]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    activity: dict[str, EntityActivity] = field(default_factory=dict)
    #: delays of the confirmed frauds synced so far: where terminal/merchant risk windows end
    label_delay: LabelDelay = field(default_factory=LabelDelay)
    models: list[ModelArtifact] = field(default_factory=list)
    #: A clock handed in by the caller (the core reads none): with it, ``fit_seconds`` has each fit's wall time.
    clock: Callable[[], float] | None = None
    fit_seconds: list[float] = field(default_factory=list)
    _new_transactions: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    _new_frauds: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, settings: Learning, params: TrainingParams | None = None) -> LearningLog:
        """A learner with the rules file's settings (target precision, cold-start frauds, the delay's half-life)."""
        return cls(settings, params or training_params(settings), label_delay=LabelDelay.of(settings))

    @property
    def retrain_seconds(self) -> float:
        """Wall seconds of fitting (in a backtest, beside the shards' detection)."""
        return sum(self.fit_seconds)

    def entity(self, key: str | None) -> EntityActivity | None:
        return self.activity.get(key) if key is not None else None

    def receive(self, day: ShardDay) -> None:
        """Log a shard's decisions of one step."""
        if not day.transaction_ids:
            return
        vectors = np.asarray(day.vectors, dtype=np.float64)
        self.chunks.append(LoggedChunk(day.transaction_ids, np.asarray(day.times, dtype=np.float64), vectors))
        for row in zip(day.transaction_ids, day.times, day.terminals, day.merchants, strict=True):
            self.where[row[0]] = row[1:]
            self._new_transactions.append(row[1:])

    def learn_outcome(self, feedback: Feedback) -> None:
        self.outcomes[feedback.transaction_id] = Outcome(feedback.is_fraud, feedback.known_at.timestamp())
        if feedback.is_fraud:
            self._new_frauds.append(feedback.transaction_id)

    def sync(self, now: float) -> ActivityNews:
        """Bring terminal/merchant activity up to ``now``; return what was added; forget what no window reaches."""
        news = ActivityNews(self._new_transactions)
        self._new_transactions = []
        for transaction_id in self._new_frauds:
            found = self.where.get(transaction_id)
            if found is None:  # not decided here (another shard's customer, or older than kept)
                continue
            ts, terminal, merchant = found
            outcome = self.outcomes.get(transaction_id)
            keys = tuple(key for key in (terminal, merchant) if key is not None)
            news.frauds.append((ts, transaction_id, keys, outcome.known_at if outcome is not None else None))
        self._new_frauds.clear()
        apply_news(self.activity, news, self.label_delay)
        self._forget(now)
        return news

    def _forget(self, now: float) -> None:
        longest = max(self.settings.train_days, self.settings.train_max_days)
        horizon = now - longest * DAY_S - 30 * DAY_S  # the longest training window plus label maturity
        while self.chunks and self.chunks[0].times[-1] < horizon:
            for transaction_id in self.chunks[0].transaction_ids:
                self.outcomes.pop(transaction_id, None)
            self.chunks.popleft()
        kept_since = now - KEPT_DAYS * DAY_S
        if self.where and next(iter(self.where.values()))[0] < kept_since:
            self.where = {t: w for t, w in self.where.items() if w[0] >= kept_since}

    def retrain(self, cutoff: float) -> ModelArtifact | None:
        """A model from the decisions of the last ``train_days`` and the outcomes known at ``cutoff``."""
        fit = self.training(cutoff)
        return fit() if fit is not None else None

    def training(self, cutoff: float) -> Callable[[], ModelArtifact | None] | None:
        """The fit of ``retrain(cutoff)`` on the log as it is now (None: nothing logged), to run now or later:
        it reads nothing the learner changes afterwards. Its model is added to ``models`` when fitted."""
        log = self.labelled(cutoff)
        if log is None:
            return None
        label_delay_days = hours_as_days(self.label_delay.window_end(self.settings))
        params, clock = self.params, self.clock

        def fit() -> ModelArtifact | None:
            started = clock() if clock is not None else 0.0
            try:
                artifact = _fit_log(log, cutoff, params, label_delay_days)
            finally:
                if clock is not None:
                    self.fit_seconds.append(clock() - started)
            if artifact is not None:
                self.models.append(artifact)
            return artifact

        return fit

    def labelled(self, cutoff: float) -> LabelledLog | None:
        """The decisions of the last ``train_days`` before ``cutoff``, with their labels as known then.

        A fraud counts once its report is known at ``cutoff``; silence means legitimate once the
        usual reporting delay (measured from the reports) has passed; until then a row's
        ``known_at`` is after ``cutoff`` and training drops it.
        """
        since = training_start(self._fraud_times(cutoff), cutoff, *self._window())
        chunks = [c for c in self.chunks if c.times[-1] >= since]
        if not chunks:
            return None
        ids = [t for c in chunks for t in c.transaction_ids]
        times = np.concatenate([c.times for c in chunks])
        vectors = np.concatenate([c.vectors for c in chunks])
        # One order whatever the shards: by time, then transaction id (training samples by position).
        order = np.lexsort((np.asarray(ids), times))
        ids, times, vectors = [ids[i] for i in order], times[order], vectors[order]
        outcomes = self.outcomes
        known = [(times[i], outcomes[t]) for i, t in enumerate(ids) if t in outcomes]
        maturity = label_maturity_s(known, cutoff)
        labels = np.zeros(len(ids), dtype=bool)
        known_at = times + maturity  # silence means legitimate once the usual reporting delay has passed
        for i, transaction_id in enumerate(ids):
            outcome = outcomes.get(transaction_id)
            if outcome is not None and outcome.known_at <= cutoff:
                labels[i] = outcome.is_fraud
                known_at[i] = outcome.known_at
        keep = times >= since
        return LabelledLog(
            [t for t, k in zip(ids, keep, strict=True) if k], vectors[keep], labels[keep], times[keep], known_at[keep]
        )

    def _window(self) -> tuple[int, int, int]:
        settings = self.settings
        return settings.train_days, settings.train_min_frauds, settings.train_max_days

    def _fraud_times(self, cutoff: float) -> list[float]:
        """Payment times of the logged transactions known at ``cutoff`` to be frauds."""
        if self.settings.train_min_frauds == 0:
            return []
        outcomes, times = self.outcomes, []
        earliest = cutoff - max(self.settings.train_days, self.settings.train_max_days) * DAY_S
        for chunk in self.chunks:
            if chunk.times[-1] < earliest:
                continue
            for transaction_id, ts in zip(chunk.transaction_ids, chunk.times.tolist(), strict=True):
                outcome = outcomes.get(transaction_id)
                if outcome is not None and outcome.is_fraud and outcome.known_at <= cutoff:
                    times.append(ts)
        return times

    def scoring_cost(self, clock: Callable[[], float], rows: int = 2000) -> dict[str, float]:
        """Microseconds per transaction to score the latest model: one by one (live) and in a batch (backtest).

        ``clock`` is handed in (e.g. ``time.perf_counter``): the core reads no clock of its own.
        """
        if not self.models or not self.chunks:
            return {}
        model = load_model(self.models[-1])
        vectors = np.concatenate([c.vectors for c in self.chunks])[-rows:]
        listed = vectors.tolist()
        started = clock()
        for vector in listed:
            model.score(vector)
        one = clock() - started
        started = clock()
        model.score_many(vectors)
        batch = clock() - started
        return {
            "one_by_one_us": round(1e6 * one / len(listed), 2),
            "batch_us": round(1e6 * batch / len(listed), 2),
        }


def _fit_log(
    log: LabelledLog, cutoff: float, params: TrainingParams, label_delay_days: float | None
) -> ModelArtifact | None:
    trained_until = datetime.fromtimestamp(cutoff, UTC)
    try:
        return train_arrays(
            log.vectors,
            log.labels,
            log.times,
            log.known_at,
            version=f"backtest-{trained_until:%Y%m%dT%H%M}",
            trained_until=trained_until,
            params=params,
            label_delay_days=label_delay_days,
        )
    except NotEnoughLabelsError:
        return None


def learn_in_steps(
    learner: LearningLog,
    feedback: list[Feedback],
    advance_all: Callable[[float], list[ShardDay]],
    update_all: Callable[[ActivityNews, ModelNews | None, LabelDelay], None],
    submit: Submit = run_now,
) -> None:
    """Drive shards step by step: each advances to the next sync point (an ``activity_sync_hours`` boundary), then
    the learner syncs, and retrains at the first step at or after each retraining time (UTC midnights).

    ``advance_all(until)`` runs every shard to ``until`` and returns their rows; ``update_all`` hands
    every shard the step's activity news, news of a model (None: none) and the label delay learned so far.
    ``submit`` runs a fit; the shards step on meanwhile, and get its model at the first step after it is
    done (at the latest before the next retraining and before this returns).
    """
    pending = sorted(feedback, key=lambda f: f.known_at)
    next_feedback = 0
    every = learner.settings.retrain_every_days * DAY_S
    step = learner.settings.activity_sync_hours * HOUR_S
    next_retrain: float | None = None
    fitting: tuple[float, Future[ModelArtifact | None]] | None = None
    days = advance_all(float("-inf"))  # nothing is before -inf: this only asks where each shard starts
    while True:
        starts = [d.next_ts for d in days if d.next_ts is not None]
        if not starts:
            if fitting is not None:
                update_all(ActivityNews(), ModelNews(fitting[0], True, fitting[1].result()), learner.label_delay)
            return
        until = (min(starts) // step + 1) * step  # the next sync point (empty steps are skipped)
        days = advance_all(until)
        for day in days:
            learner.receive(day)
        while next_feedback < len(pending) and pending[next_feedback].known_at.timestamp() <= until:
            learner.learn_outcome(pending[next_feedback])
            next_feedback += 1
        news = learner.sync(until)
        if next_retrain is None:  # the first midnight at or after the first step
            next_retrain = -(-until // DAY_S) * DAY_S
        model: ModelNews | None = None
        if fitting is not None and (until >= next_retrain or fitting[1].done()):
            model = ModelNews(fitting[0], True, fitting[1].result())
            fitting = None
        if until >= next_retrain:
            if model is not None:  # the previous model reaches the shards before the next is announced
                update_all(news, model, learner.label_delay)
                news, model = ActivityNews(), None
            fit = learner.training(until)
            if fit is not None:
                future = submit(fit)
                if future.done():
                    model = ModelNews(until, True, future.result())
                else:
                    model, fitting = ModelNews(until, False), (until, future)
            next_retrain = until // DAY_S * DAY_S + every
        update_all(news, model, learner.label_delay)
