"""The benchmark harness on tiny data: features as defined, a protocol without leakage, real baselines."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bench.handbook import judge, run_baselines, run_fraudwatch
from bench.handbook_features import FEATURE_NAMES, Protocol, baseline_features, known_labels, train_test_split
from producers.handbook import SECONDS_PER_DAY, HandbookData, HandbookScenario, simulate
from producers.handbook_files import transaction_id

TINY = HandbookScenario(customers=120, terminals=240, days=40)
PROTOCOL = Protocol(train_start_day=12, train_days=7, delay_days=7, test_days=7)


@pytest.fixture(scope="module")
def tiny() -> HandbookData:
    return simulate(TINY, 21)


def test_features_follow_their_definitions_row_by_row(tiny: HandbookData) -> None:
    features = baseline_features(tiny, delay_days=7)
    assert features.shape == (len(tiny), len(FEATURE_NAMES))
    rng = np.random.default_rng(0)
    t, day = tiny.seconds, SECONDS_PER_DAY
    for i in rng.choice(len(tiny), size=40, replace=False):
        mine = tiny.customer == tiny.customer[i]
        for w, column in zip((1, 7, 30), (3, 5, 7), strict=True):
            window = mine & (t > t[i] - w * day) & (t <= t[i])  # the payment itself included
            assert features[i, column] == window.sum()
            assert features[i, column + 1] == pytest.approx(tiny.amount[window].mean())
        at_terminal = tiny.terminal == tiny.terminal[i]
        for w, column in zip((1, 7, 30), (9, 11, 13), strict=True):
            # Only what is known: the window ends the label delay before the payment.
            window = at_terminal & (t > t[i] - (7 + w) * day) & (t <= t[i] - 7 * day)
            assert features[i, column] == window.sum()
            expected_risk = tiny.is_fraud[window].mean() if window.any() else 0.0
            assert features[i, column + 1] == pytest.approx(expected_risk)
        assert features[i, 2] == ((t[i] % day) // 3600 <= 6)


def test_the_protocol_never_trains_on_the_test_window_and_drops_known_cards(tiny: HandbookData) -> None:
    split = train_test_split(tiny, PROTOCOL)
    train_days, test_days = tiny.day[split.train], tiny.day[split.test]
    assert not (split.train & split.test).any()
    assert train_days.min() == 12 and train_days.max() == 18
    assert test_days.min() >= 26 and test_days.max() <= 32  # 7 days of delay left out between them
    known_in_training = set(tiny.customer[split.train & tiny.is_fraud])
    assert known_in_training and not known_in_training & set(tiny.customer[split.test])


def test_baselines_beat_chance_and_fraudwatch_is_judged_on_the_same_rows(tiny: HandbookData) -> None:
    rows = run_baselines(tiny, PROTOCOL, gbt="lightgbm", jobs=1)  # one thread: the machine is shared
    assert [r.system for r in rows] == ["logistic regression", "random forest", "LightGBM"]
    assert all(r.auc_roc is not None and r.auc_roc > 0.7 for r in rows)
    fraudwatch, report = run_fraudwatch(tiny, PROTOCOL, seed=21, workers=1, feedback_with_terminal=False)
    split = train_test_split(tiny, PROTOCOL)
    # The backtest's own report covers every test-window payment; the table only the Handbook's test rows.
    assert report["transactions"] >= split.test.sum() > 0
    assert fraudwatch.system == "fraudwatch" and fraudwatch.auc_roc is not None and fraudwatch.us_per_tx > 0


def test_a_perfect_score_is_judged_perfect(tiny: HandbookData) -> None:
    split = train_test_split(tiny, PROTOCOL)
    labels = tiny.is_fraud[split.test]
    row = judge("oracle", tiny, split.test, labels.astype(float), labels, 1.0, "0.5")
    assert row.auc_roc == 1.0 and row.average_precision == 1.0 and row.precision == row.recall == 1.0
    assert row.recall_at_precision_85 == 1.0


def test_with_one_delay_the_split_is_the_handbooks_day_rule(tiny: HandbookData) -> None:
    split = train_test_split(tiny, PROTOCOL)
    day, fraud = tiny.day, tiny.is_fraud
    for test_day in range(26, 33):
        # The Handbook: the cards of frauds from the training start to the day the delay before this one.
        known = set(tiny.customer[fraud & (day >= 12) & (day <= test_day - 7 - 1)])
        expected = {int(i) for i in np.flatnonzero(day == test_day) if tiny.customer[i] not in known}
        assert set(np.flatnonzero(split.test & (day == test_day)).tolist()) == expected


def test_baselines_learn_only_what_was_reported() -> None:
    scenario = replace(TINY, label_delay_days=1.0, label_delay_max_days=12.0, reported_share=0.6)
    data = simulate(scenario, 21)
    protocol = Protocol.for_scenario(scenario)
    assert protocol.delay_days == math.ceil(12**0.9)  # the delay 90 % of the reports arrive within
    protocol = replace(protocol, train_start_day=12)
    delay_s = protocol.delay_days * SECONDS_PER_DAY
    in_time = data.known_s - data.seconds <= delay_s
    unreported = data.is_fraud & np.isinf(data.known_s)
    assert unreported.any() and (data.is_fraud & ~in_time & ~unreported).any()

    split = train_test_split(data, protocol)
    labels = known_labels(data, split.train, protocol.test_start_day)
    assert 0 < labels.sum() < data.is_fraud[split.train].sum()  # no unreported (or late) fraud is learned
    assert not (labels & unreported[split.train]).any()
    for i in np.flatnonzero(split.test):
        earlier = (data.customer == data.customer[i]) & (data.day >= protocol.train_start_day)
        assert not (earlier & (data.known_s < data.day[i] * SECONDS_PER_DAY)).any()  # no card known by then
    assert (split.test & unreported).any()  # a fraud nobody reported is judged as the fraud it is

    features = baseline_features(data, protocol.delay_days)
    t = data.seconds
    for i in np.random.default_rng(1).choice(len(data), size=40, replace=False):
        window = (
            (data.terminal == data.terminal[i]) & (t > t[i] - delay_s - 7 * SECONDS_PER_DAY) & (t <= t[i] - delay_s)
        )
        expected = in_time[window].mean() if window.any() else 0.0
        assert features[i, 12] == pytest.approx(expected)  # the 7-day terminal risk: frauds reported by then


def test_the_median_delay_windows_variant_appends_the_terminal_windows_ending_there() -> None:
    from bench.ranking_gap import TERMINAL_WINDOWS, Columns, Variant

    scenario = replace(TINY, label_delay_days=1.0, label_delay_max_days=12.0)
    data = simulate(scenario, 21)
    protocol = Protocol.for_scenario(scenario)
    median = math.ceil(12**0.5)
    assert median < protocol.delay_days
    rows = np.array([5, 50, 500])
    ids = [transaction_id(int(r)) for r in rows]
    vectors = np.arange(6.0).reshape(3, 2)
    columns = Columns(data, protocol)
    plain = columns.of(Variant("plain"), ids, vectors)
    both = columns.of(Variant("fresh", median_terminal_windows=True), ids, vectors)
    assert np.array_equal(plain, vectors) and both.shape == (3, 2 + len(TERMINAL_WINDOWS))
    assert np.array_equal(both[:, 2:], baseline_features(data, median)[rows][:, TERMINAL_WINDOWS])
