"""The label delay is learned from confirmed frauds, point in time, the same way live and in the backtest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.rules import load_rules
from detection.activity import DAY_S, HOUR_S, MAX_WINDOW_END_HOURS, EntityActivity, hour_of, risk_feature_names
from detection.backtest import Backtest
from detection.decisions import apply_activity_delta, decision_record, fraud_deltas, latest_label_delay
from detection.engine import Detector
from detection.features import FEATURE_NAMES, Features
from detection.label_delay import MAX_OBSERVED_HOURS, LabelDelay, whole_hours
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
    assert delays.window_end(PRIOR) == 7 * 24 and delays.quantile(0.9) is None
    for n in range(19):
        delays.observe(start + n * 3600, start + n * 3600 + 2 * DAY_S)
    assert delays.window_end(PRIOR) == 7 * 24  # 19 frauds: still the prior
    delays.observe(start, start + 2 * DAY_S - 1800)
    assert delays.window_end(PRIOR) == 48  # the 20th: every fraud known 48 hours on
    for _ in range(2):  # 2 of 22 (9 %) took 9 days: the 90th percentile is still 2 days
        delays.observe(start, start + 9 * DAY_S)
    assert delays.window_end(PRIOR) == 48
    delays.observe(start, start + 9 * DAY_S + 60)  # 3 of 23 (13 %): now the 21st of 23 took 9 days
    assert delays.window_end(PRIOR) == 9 * 24
    assert delays.summary(PRIOR) == {
        "label_delay_days": 9.0,
        "prior_days": 7,
        "quantile": 0.9,
        "learned_days": 9.0,
        "frauds_observed": 23,
        "min_frauds": 20,
        "median_days": 2.0,
    }
    assert LabelDelay.from_json(delays.to_json()) == delays


def test_a_delay_histogram_of_format_1_loads_as_whole_days_of_hours() -> None:
    old = LabelDelay.from_json(b'{"counts":[0,0,0,5,0,0,0,0,25]}')  # days to the first midnight after the report
    assert old.frauds == 30 and old.quantile(0.5) == 8 * 24 and old.quantile(0.1) == 3 * 24


def test_whole_hours_round_up_and_stay_bounded() -> None:
    start = T0.timestamp() + 600
    assert whole_hours(start, start + 5) == 1  # reported within the hour: complete an hour on
    assert whole_hours(start, start + 2 * 3600) == 2  # exactly 2 hours, across whatever midnight
    assert whole_hours(start, start + 2 * 3600 + 1) == 3
    assert whole_hours(start, start + 7 * DAY_S) == 7 * 24  # the Handbook's exact week
    assert whole_hours(start, start - 3600) == 1  # a report before its payment (clock skew)
    assert whole_hours(start, start + 400 * DAY_S) == MAX_OBSERVED_HOURS
    slow = LabelDelay()
    for _ in range(30):
        slow.observe(start, start + 60 * DAY_S)
    assert slow.quantile(0.9) == 60 * 24
    assert slow.window_end(PRIOR) == MAX_WINDOW_END_HOURS  # the kept activity days serve no later window end


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
    assert delays.frauds == 1 and delays.quantile(0.5) == 3 * 24


@pytest.fixture(scope="module")
def three_day_stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Transaction], list[Feedback]]:
    """The Handbook's design with chargebacks 3 days after the payment (the rules file's prior is 7)."""
    directory = tmp_path_factory.mktemp("three-day")
    scenario = profile("handbook", customers=150, terminals=300, days=24, label_delay_days=3.0)
    write_handbook_files(simulate(scenario, seed=5), directory, seed=5)
    transactions = [Transaction.model_validate_json(line) for line in (directory / "transactions.jsonl").open()]
    feedback = [Feedback.model_validate_json(line) for line in (directory / "feedback.jsonl").open()]
    return transactions, feedback


@pytest.fixture(scope="module")
def three_day_backtest(
    three_day_stream: tuple[list[Transaction], list[Feedback]],
) -> tuple[LearningLog, list[tuple[Transaction, Features]]]:
    """A learning backtest of the stream: the learner and every transaction with its features as scored."""
    transactions, feedback = three_day_stream
    scored: list[tuple[Transaction, Features]] = []
    learner = LearningLog.of(CONFIG.learning)
    Backtest(Detector(CONFIG)).run(
        transactions, feedback, lambda t, decision: scored.append((t, decision.features)), learning=learner
    )
    return learner, scored


def test_the_backtest_scores_with_the_delay_learned_from_feedback_known_by_then(
    three_day_stream: tuple[list[Transaction], list[Feedback]],
    three_day_backtest: tuple[LearningLog, list[tuple[Transaction, Features]]],
) -> None:
    transactions, feedback = three_day_stream
    learner = three_day_backtest[0]
    scored = [(features.ts, features.label_delay_hours) for _, features in three_day_backtest[1]]
    assert len(scored) == len(transactions)
    frauds_known = sorted(f.known_at.timestamp() for f in feedback if f.is_fraud)
    minimum = CONFIG.learning.label_delay_min_frauds
    for ts, delay in scored:
        # Learned at each hour: only the frauds known by the start of the payment's hour count.
        known = sum(1 for at in frauds_known if at <= hour_of(ts) * HOUR_S)
        assert delay == (CONFIG.learning.label_delay_days * 24 if known < minimum else 72), (ts, known, delay)
    assert {delay for _, delay in scored} == {7 * 24, 72}  # the prior first, then what the chargebacks showed
    assert learner.label_delay.summary(CONFIG.learning)["label_delay_days"] == 3
    assert learner.models and learner.models[-1].label_delay_days == 3  # what the model's features assumed


def test_a_model_trained_from_the_log_records_the_latest_delay() -> None:
    records = []
    for n, delay in ((1, 7 * 24), (2, 3 * 24), (3, 5 * 24 + 6)):
        transaction = tx(n, seconds=n * 3600)
        decision = Detector(CONFIG).evaluate(transaction, CustomerState())
        decision.features.label_delay_hours = delay
        records.append(decision_record(transaction, decision, "v"))
    assert latest_label_delay(records, T0.timestamp() + 2.5 * 3600) == 3  # the decision after the cut-off: unseen
    assert latest_label_delay(records, T0.timestamp() + DAY_S) == 5.25


def test_hourly_terminal_windows_count_only_frauds_known_when_scored(
    three_day_stream: tuple[list[Transaction], list[Feedback]],
    three_day_backtest: tuple[LearningLog, list[tuple[Transaction, Features]]],
) -> None:
    """No leakage in the finer windows: each payment's 1- and 7-day terminal windows hold exactly the
    terminal's payments of the hours they cover, and of their frauds exactly those whose report was
    known when the payment's hour began (the backtest catches up at each hour; live catches up sooner)."""
    transactions, feedback = three_day_stream
    hour_of_tx = {t.transaction_id: hour_of(t.timestamp.timestamp()) for t in transactions}
    per_terminal: dict[str, list[int]] = {}
    for t in transactions:
        per_terminal.setdefault(t.terminal_id or "", []).append(hour_of_tx[t.transaction_id])
    terminal_of = {t.transaction_id: t.terminal_id or "" for t in transactions}
    frauds: dict[str, list[tuple[int, float]]] = {}  # terminal -> (payment hour, known_at)
    for f in feedback:
        if f.is_fraud:
            frauds.setdefault(terminal_of[f.transaction_id], []).append(
                (hour_of_tx[f.transaction_id], f.known_at.timestamp())
            )
    columns = [FEATURE_NAMES.index(name) for name in risk_feature_names("terminal")][:4]
    checked = with_frauds = 0
    for transaction, features in three_day_backtest[1]:
        terminal, hour = transaction.terminal_id or "", hour_of(features.ts)
        end = hour - features.label_delay_hours
        vector = features.vector()
        for days, (count_at, share_at) in zip((1, 7), (columns[0:2], columns[2:4]), strict=True):
            start = end - 24 * days
            expected = sum(1 for h in per_terminal[terminal] if start <= h < end)
            known = sum(1 for h, at in frauds.get(terminal, []) if start <= h < end and at <= hour * HOUR_S)
            assert vector[count_at] == expected, (transaction.transaction_id, days)
            assert vector[share_at] == pytest.approx(known / expected if expected else 0.0)
            with_frauds += known > 0
        checked += 1
    assert checked == len(transactions) and with_frauds > 100  # the check saw real fraud shares, not only empty windows


def test_with_a_half_life_recent_reports_outweigh_old_ones_and_the_weights_stay_in_range() -> None:
    settings = PRIOR.model_copy(update={"label_delay_half_life_days": 7.0})
    decayed, flat = LabelDelay.of(settings), LabelDelay.of(PRIOR.model_copy(update={"label_delay_half_life_days": 0}))
    start = T0.timestamp()
    for n in range(60):  # 60 days of 10-day chargebacks, then 30 days of 3-day reports: a faster source
        for delay in (decayed, flat):
            delay.observe(start + n * DAY_S, start + (n + 10) * DAY_S)
    for n in range(70, 100):
        for delay in (decayed, flat):
            delay.observe(start + n * DAY_S, start + (n + 3) * DAY_S)
    assert flat.window_end(settings) == 10 * 24  # 30 of 90: the old delay still holds the 90th percentile
    assert decayed.window_end(settings) == 3 * 24  # the old reports weigh under 10 % after three half-lives
    assert decayed.frauds == flat.frauds == 90  # the cold-start threshold counts frauds, not weight
    stored = LabelDelay.from_json(decayed.to_json(), decayed.half_life_s)
    assert stored == decayed and stored.window_end(settings) == 3 * 24
    for n in range(2000):  # years of reports: weights are rescaled, never overflow
        decayed.observe(start + n * DAY_S, start + (n + 5) * DAY_S)
    assert decayed.window_end(settings) == 5 * 24 and max(decayed.counts) < 2.0**70
