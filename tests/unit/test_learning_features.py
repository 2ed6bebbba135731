"""Features with memory of weeks: customer daily buckets, terminal windows at the label delay, the state codec."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from config.rules import load_rules
from detection.activity import (
    DAY_S,
    HOUR_S,
    HOURLY_DAYS,
    KEPT_DAYS,
    NO_FRAUD_HOURS,
    EntityActivity,
    risk_feature_names,
)
from detection.engine import Detector
from detection.features import FEATURE_NAMES, NO_ACTIVITY
from detection.models import FraudReport
from detection.reference import CustomerReference
from detection.state import DAILY_BUCKETS, STATE_FORMAT, CustomerState, StateFormatError, decode_state
from tests.unit.detection_fixtures import T0, tx

CONFIG = load_rules()
DAY = 86_400.0
HOUR = HOUR_S


def feed(detector: Detector, state: CustomerState, *day_offsets: float) -> None:
    for n, days in enumerate(day_offsets):
        transaction = tx(1000 + n, seconds=days * DAY, amount=10.0)
        detector.learn(state, transaction, detector.evaluate(transaction, state))


def test_customer_windows_count_this_day_and_the_6_or_29_before() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    # T0 is noon; offsets are whole days back from the scored transaction's day (day 0 below).
    feed(detector, state, -30, -29, -7, -6, -1)
    f = detector.evaluate(tx(1, amount=40.0), state).features
    assert (f.count_7d, f.count_30d) == (1 + 2, 1 + 4)  # days -6 and -1 in 7 days; -29 in 30, -30 is out
    assert f.amount_7d_eur == pytest.approx(40 + 20)
    assert f.amount_30d_eur == pytest.approx(40 + 40)
    assert f.count_24h == 2  # the exact rolling 24 h: day -1 at noon is exactly 24 h back
    vector = dict(zip(FEATURE_NAMES, f.vector(), strict=True))
    assert vector["mean_amount_30d"] == pytest.approx(80 / 5)


def test_daily_buckets_stay_bounded() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    feed(detector, state, *range(100))
    assert len(state.daily) <= DAILY_BUCKETS
    assert state.daily[0][0] > state.daily[-1][0] - DAILY_BUCKETS


def test_terminal_windows_end_the_label_delay_before_the_hour_scored() -> None:
    now = T0.timestamp()  # noon
    week = 7 * 24
    activity = EntityActivity()
    hours_back = (0, week - 1, week, week + 1, 8 * 24, 8 * 24 + 1, 14 * 24, 14 * 24 + 1, 37 * 24, 37 * 24 + 1, 38 * 24)
    for hours in hours_back:
        activity.add_transaction(now - hours * HOUR)
    activity.add_fraud(now - (week + 1) * HOUR, "F1")
    activity.add_fraud(now - week * HOUR, "F0")  # the delay's own hour: in no window yet
    assert activity.window(now, 1, week) == (2, 1)  # week + 1 and 8 days: the 24 hours before the delay
    assert activity.window(now, 7, week) == (4, 1)  # ... and 8 days + 1 hour, 14 days
    # 37 days back is a whole-day bucket (older than HOURLY_DAYS): its midpoint, noon, starts the 30-day window,
    # so both of its payments count; 38 days back does not.
    assert activity.window(now, 30, week) == (7, 1)
    # ... then the hours since the newest and the oldest fraud known: F0 is in no window yet, but it is known.
    assert activity.risk_features(now, week) == [2.0, 0.5, 4.0, 0.25, 7.0, 1 / 7, week, week + 1]
    # The windows move with the hour, not at midnight: two hours earlier, week + 1 is not yet in.
    assert activity.window(now - 2 * HOUR, 1, week) == (2, 0)  # 8 days, 8 days + 1 hour
    assert activity.window(now + HOUR, 1, week) == (2, 2)  # an hour later: the delay's own hour in, 8 days out
    assert activity.add_fraud(now - week * HOUR, "F0") is False  # a replayed report counts once


def test_fraud_ages_say_how_recently_and_how_long_an_entity_was_seen_compromised() -> None:
    now = T0.timestamp()  # noon
    activity = EntityActivity()
    activity.add_transaction(now - 3 * HOUR)
    assert activity.risk_features(now, 24)[-2:] == [NO_FRAUD_HOURS, NO_FRAUD_HOURS]  # no fraud kept: older than any
    activity.add_fraud(now - 40 * 24 * HOUR, "old")  # a whole-day bucket by now: counted at its midpoint, noon
    activity.add_fraud(now - 5 * HOUR, "recent")
    activity.add_fraud(now + 2 * HOUR, "later")  # an out-of-order payment after the one scored: not counted
    assert activity.risk_features(now, 24)[-2:] == [5.0, 40 * 24.0]
    assert activity.risk_features(now + 3 * HOUR, 24)[-2:] == [1.0, 40 * 24 + 3.0]  # the later one is in by then
    assert len(NO_ACTIVITY) == len(risk_feature_names("terminal"))


def test_terminal_activity_is_bounded_and_round_trips() -> None:
    now = T0.timestamp()
    activity = EntityActivity()
    for hour in range(100 * 24):
        activity.add_transaction(now + hour * HOUR)
    assert len(activity.hours) <= HOURLY_DAYS * 24
    assert len(activity.days) <= KEPT_DAYS - HOURLY_DAYS + 1
    assert EntityActivity.from_json(activity.to_json()) == activity


def test_terminal_activity_of_format_1_loads_its_days_and_counts_on() -> None:
    now = T0.timestamp()
    day = int(now // DAY_S)
    old = json.dumps({"days": {str(day - 9): [4, 1], str(day - 8): [2, 0]}, "frauds": {"F": day - 9}}).encode()
    activity = EntityActivity.from_json(old)
    assert activity.window(now, 7, 7 * 24) == (6, 1)  # days -9 and -8 by their midpoints
    activity.add_transaction(now - 7 * DAY_S - HOUR)  # a new payment in an old whole day: counted per hour
    assert activity.window(now, 7, 7 * 24) == (7, 1)
    assert EntityActivity.from_json(activity.to_json()) == activity


def test_terminal_activity_of_format_2_loads_as_written_before_flat_lists() -> None:
    now = T0.timestamp()
    hour, day = int(now // HOUR), int(now // DAY_S)
    old = {"format": 2, "days": {str(day - 20): [5, 1]}, "hours": {str(hour - 1): [3, 0], str(hour): [2, 1]}}
    activity = EntityActivity.from_json(json.dumps({**old, "frauds": {"F": day - 20, "G": day}}).encode())
    assert activity.days == {day - 20: [5, 1]}
    assert activity.hours == {hour - 1: [3, 0], hour: [2, 1]}
    assert activity.window(now + HOUR, 1, 0) == (5, 1)  # both hourly buckets, the day bucket is older
    assert json.loads(activity.to_json())["format"] == 3
    assert EntityActivity.from_json(activity.to_json()) == activity


def test_terminal_risk_reaches_the_features() -> None:
    activity = EntityActivity()
    for days_back in (7, 8):
        activity.add_transaction((T0 - timedelta(days=days_back, hours=1)).timestamp())
    activity.add_fraud((T0 - timedelta(days=8, hours=1)).timestamp(), "F")
    f = Detector(CONFIG).evaluate(tx(1), CustomerState(), terminal_activity=activity).features
    vector = dict(zip(FEATURE_NAMES, f.vector(), strict=True))
    assert vector["terminal_tx_7d"] == 2
    assert vector["terminal_fraud_share_7d"] == 0.5
    assert vector["terminal_fraud_share_1d"] == 0.0


def test_the_hours_since_the_customers_newest_report_tell_a_compromise_going_on_from_one_long_over() -> None:
    lookback_hours = CONFIG.rules.high_risk_customer.report_lookback_days * 24.0
    reference = CustomerReference()
    detector = Detector(CONFIG)

    def hours() -> float:
        features = detector.evaluate(tx(1), CustomerState(), reference).features
        return dict(zip(FEATURE_NAMES, features.vector(), strict=True))["customer_hours_since_newest_fraud"]

    assert hours() == lookback_hours  # no report: older than any counted
    reference.add_confirmed_fraud((T0 - timedelta(days=200)).timestamp(), "F0")  # outside the lookback
    assert hours() == lookback_hours
    reference.add_confirmed_fraud((T0 - timedelta(days=60)).timestamp(), "F1")
    assert hours() == 60 * 24.0
    reference.add_confirmed_fraud((T0 - timedelta(hours=5)).timestamp(), "F2")
    reference.add_confirmed_fraud((T0 + timedelta(hours=1)).timestamp(), "F3")  # known after this payment
    assert hours() == 5.0
    reference.add_fraud_report(
        FraudReport(report_id="R1", customer_id="C1", reported_at=T0 - timedelta(hours=2), category="card")
    )
    assert hours() == 2.0
    reference.add_fraud_report(
        FraudReport(report_id="R2", customer_id="C1", reported_at=T0 + timedelta(hours=2), category="card")
    )
    assert hours() == 2.0  # a report after the payment does not count


def test_state_codec_round_trips_the_current_format() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    feed(detector, state, -3, -1, 0)
    raw = state.to_json()
    assert json.loads(raw)[0] == STATE_FORMAT
    assert decode_state(raw) == (state, None)


def test_state_codec_reads_state_as_json_dumps_wrote_it_and_writes_the_same_json() -> None:
    """The upgrade path: a worker of the previous release wrote states with ``json.dumps``."""
    detector, state = Detector(CONFIG), CustomerState()
    feed(detector, state, -40, -20, -3, -1, -0.5, 0)
    state.countries["FR"] = 1.0e-7  # a float json.dumps spells 1e-07, pydantic_core 1e-7: the same number
    layout = json.loads(state.to_json())
    written_before = json.dumps(layout, separators=(",", ":")).encode()
    assert decode_state(written_before) == (state, None)
    assert json.loads(state.to_json()) == json.loads(written_before)
    nan = json.dumps([*layout[:3], float("nan"), *layout[4:]]).encode()  # json.dumps writes NaN: read it
    decoded, reason = decode_state(nan)
    assert reason is None and decoded.log_amount_mean != decoded.log_amount_mean


def test_state_codec_resets_bytes_that_are_not_utf8() -> None:
    assert decode_state(b"\xff\xfe[2]") == (CustomerState(), "undecodable")


def test_state_codec_migrates_the_unversioned_format() -> None:
    detector, state = Detector(CONFIG), CustomerState()
    feed(detector, state, 0, 0.01)
    current = json.loads(state.to_json())
    old = json.dumps(current[1:9]).encode()  # format 1: no version, no daily buckets
    migrated, reason = decode_state(old)
    assert reason == "migrated_v1"
    assert migrated.recent == state.recent and migrated.transactions_seen == 2
    assert migrated.daily == state.daily  # rebuilt from the recent transactions
    with pytest.raises(StateFormatError):
        CustomerState.from_json(old)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[99, 1, 2]", "unknown_format"),
        (b"{not json", "undecodable"),
        (b'{"a": 1}', "undecodable"),
        (b"[2, 1]", "undecodable"),
    ],
)
def test_state_codec_resets_what_it_cannot_read(raw: bytes, reason: str) -> None:
    state, why = decode_state(raw)
    assert why == reason
    assert state == CustomerState()


def test_features_as_logged_are_every_field_with_its_value() -> None:
    activity = EntityActivity()
    activity.add_fraud((T0 - timedelta(days=8)).timestamp(), "F")
    f = Detector(CONFIG).evaluate(tx(1), CustomerState(), terminal_activity=activity).features
    assert f.as_dict() == dataclasses.asdict(f)  # the shallow copy the audit log uses loses nothing
    assert f.as_dict()["terminal_risk"] == f.terminal_risk
