"""The label delay is learned from confirmed frauds, point in time, the same way live and in the backtest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.rules import load_rules
from detection.activity import DAY_S, EntityActivity, day_of
from detection.backtest import Backtest
from detection.decisions import apply_activity_delta, decision_record, fraud_deltas, latest_label_delay
from detection.engine import Decision, Detector
from detection.label_delay import MAX_OBSERVED_DAYS, MAX_WINDOW_END_DAYS, LabelDelay, whole_days
from detection.learning import LearningLog
from detection.models import Feedback, Transaction
from detection.rules_config import Learning
from detection.state import CustomerState
from producers.handbook import profile, simulate
from producers.handbook_files import write_handbook_files
from tests.unit.detection_fixtures import T0, tx

CONFIG = load_rules()
PRIOR = Learning(label_delay_days=7, label_delay_min_frauds=20, label_delay_quantile=0.9)


def test_the_prior_serves_until_enough_frauds_then_a_high_quantile_of_their_delays() -> None:
    delays = LabelDelay()
    start = T0.timestamp()
    assert delays.window_end(PRIOR) == 7 and delays.quantile(0.9) is None
    for n in range(19):
        delays.observe(start + n * 3600, start + n * 3600 + 2 * DAY_S)
    assert delays.window_end(PRIOR) == 7  # 19 frauds: still the prior
    delays.observe(start, start + 2 * DAY_S)
    assert delays.window_end(PRIOR) == 3  # the 20th: every fraud's day complete 3 days on
    for _ in range(2):  # 2 of 22 (9 %) took 9 days: the 90th percentile is still 3 days
        delays.observe(start, start + 9 * DAY_S)
    assert delays.window_end(PRIOR) == 3
    delays.observe(start, start + 9 * DAY_S)  # 3 of 23 (13 %): now it is 10
    assert delays.window_end(PRIOR) == 10
    assert delays.summary(PRIOR) == {
        "label_delay_days": 10,
        "prior_days": 7,
        "quantile": 0.9,
        "learned_days": 10,
        "frauds_observed": 23,
        "median_days": 3,
    }
    assert LabelDelay.from_json(delays.to_json()) == delays


def test_whole_days_count_to_the_first_day_after_the_report_and_stay_bounded() -> None:
    midnight = day_of(T0.timestamp()) * DAY_S
    assert whole_days(midnight + 3600, midnight + 3 * 3600) == 1  # reported the same day: complete tomorrow
    assert whole_days(midnight + 23 * 3600, midnight + 25 * 3600) == 2  # 2 hours, across a midnight
    assert whole_days(midnight + 3600, midnight + 7 * DAY_S + 3600) == 8  # the Handbook's exact week
    assert whole_days(midnight, midnight - 3600) == 1  # a report before its payment (clock skew)
    assert whole_days(midnight, midnight + 400 * DAY_S) == MAX_OBSERVED_DAYS
    slow = LabelDelay()
    for _ in range(30):
        slow.observe(midnight, midnight + 60 * DAY_S)
    assert slow.quantile(0.9) == 61
    assert slow.window_end(PRIOR) == MAX_WINDOW_END_DAYS  # the kept activity days serve no later window end


def test_a_chargeback_teaches_the_delay_once_through_the_live_activity_deltas() -> None:
    transaction = tx(7, seconds=3600)
    record = decision_record(transaction, Detector(CONFIG).evaluate(transaction, CustomerState()), "v")
    chargeback = Feedback(
        transaction_id="T7", customer_id="C1", is_fraud=True, known_at=transaction.timestamp + timedelta(days=3)
    )
    deltas = fraud_deltas(chargeback, record)
    assert [d.frauds[0].known_at is not None for d in deltas] == [True, False]  # the terminal's mark teaches
    delays = LabelDelay()
    terminal, merchant = EntityActivity(), EntityActivity()
    for _ in range(2):  # a redelivered chargeback teaches once
        apply_activity_delta(terminal, deltas[0], delays)
        apply_activity_delta(merchant, deltas[1], delays)
    assert delays.frauds == 1 and delays.quantile(0.5) == 4


@pytest.fixture(scope="module")
def three_day_stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Transaction], list[Feedback]]:
    """The Handbook's design with chargebacks 3 days after the payment (the rules file's prior is 7)."""
    directory = tmp_path_factory.mktemp("three-day")
    scenario = profile("handbook", customers=150, terminals=300, days=24, label_delay_days=3.0)
    write_handbook_files(simulate(scenario, seed=5), directory, seed=5)
    transactions = [Transaction.model_validate_json(line) for line in (directory / "transactions.jsonl").open()]
    feedback = [Feedback.model_validate_json(line) for line in (directory / "feedback.jsonl").open()]
    return transactions, feedback


def test_the_backtest_scores_with_the_delay_learned_from_feedback_known_by_then(
    three_day_stream: tuple[list[Transaction], list[Feedback]],
) -> None:
    transactions, feedback = three_day_stream
    scored: list[tuple[float, int]] = []

    def keep(transaction: Transaction, decision: Decision) -> None:
        scored.append((decision.features.ts, decision.features.label_delay_days))

    learner = LearningLog.of(CONFIG.learning)
    Backtest(Detector(CONFIG)).run(transactions, feedback, keep, learning=learner)
    assert len(scored) == len(transactions)
    frauds_known = sorted(f.known_at.timestamp() for f in feedback if f.is_fraud)
    minimum = CONFIG.learning.label_delay_min_frauds
    for ts, delay in scored:
        # Learned once a day at midnight: only the frauds known by the start of the payment's day count.
        known = sum(1 for at in frauds_known if at <= day_of(ts) * DAY_S)
        assert delay == (CONFIG.learning.label_delay_days if known < minimum else 4), (ts, known, delay)
    assert {delay for _, delay in scored} == {7, 4}  # the prior first, then what the chargebacks showed
    assert learner.label_delay.summary(CONFIG.learning)["label_delay_days"] == 4
    assert learner.models and learner.models[-1].label_delay_days == 4  # what the model's features assumed


def test_a_model_trained_from_the_log_records_the_latest_delay() -> None:
    records = []
    for n, delay in ((1, 7), (2, 3), (3, 5)):
        transaction = tx(n, seconds=n * 3600)
        decision = Detector(CONFIG).evaluate(transaction, CustomerState())
        decision.features.label_delay_days = delay
        records.append(decision_record(transaction, decision, "v"))
    assert latest_label_delay(records, T0.timestamp() + 2.5 * 3600) == 3  # the decision after the cut-off: unseen
    assert latest_label_delay(records, T0.timestamp() + DAY_S) == 5
