"""The terminal/merchant activity as columns answers and writes exactly as the dicts of buckets it replaced.

``AsDicts`` is the bookkeeping ``EntityActivity`` had until session 12 (hour and day numbers -> [transactions,
frauds] in dicts), without its running totals: its risk features are counted bucket by bucket from their
definition. The columns must give the same features and windows, and ``to_json`` the same bytes (other workers
and the table read them), on random payments, late payments and frauds over 60 days.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from detection.activity import (
    ACTIVITY_FORMAT,
    HOUR_S,
    HOURLY_DAYS,
    HOURS_PER_DAY,
    KEPT_DAYS,
    NO_DAY,
    NO_FRAUD_HOURS,
    WINDOW_DAYS,
    EntityActivity,
    day_of,
    hour_of,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DELAYS = (0, 1, 24, 7 * HOURS_PER_DAY, 14 * HOURS_PER_DAY)


class AsDicts:
    """Session 11's EntityActivity bookkeeping: each kind of bucket a dict in the order first counted."""

    def __init__(self) -> None:
        self.days: dict[int, list[int]] = {}
        self.hours: dict[int, list[int]] = {}
        self.frauds: dict[str, int] = {}
        self.newest_day = NO_DAY

    def add_transaction(self, ts: float, count: int = 1) -> None:
        self.count(ts, count, 0)

    def add_fraud(self, transaction_ts: float, transaction_id: str) -> bool:
        if transaction_id in self.frauds or not self.count(transaction_ts, 0, 1):
            return False
        self.frauds[transaction_id] = day_of(transaction_ts)
        return True

    def count(self, ts: float, transactions: int, frauds: int) -> bool:
        hour = hour_of(ts)
        day = hour // HOURS_PER_DAY
        if day > self.newest_day:
            self.roll(day)
        if day > self.newest_day - HOURLY_DAYS:
            bucket = self.hours.setdefault(hour, [0, 0])
        elif day > self.newest_day - KEPT_DAYS:
            bucket = self.days.setdefault(day, [0, 0])
        else:
            return False
        bucket[0] += transactions
        bucket[1] += frauds
        return True

    def roll(self, newest_day: int) -> None:
        self.newest_day = newest_day
        first_hourly = (newest_day - HOURLY_DAYS + 1) * HOURS_PER_DAY
        for hour in [h for h in self.hours if h < first_hourly]:
            counts = self.hours.pop(hour)
            bucket = self.days.setdefault(hour // HOURS_PER_DAY, [0, 0])
            bucket[0] += counts[0]
            bucket[1] += counts[1]
        oldest = newest_day - KEPT_DAYS
        if self.days and min(self.days) <= oldest:
            self.days = {day: bucket for day, bucket in self.days.items() if day > oldest}
            self.frauds = {tx: day for tx, day in self.frauds.items() if day > oldest}

    def at_their_hour(self) -> list[tuple[int, list[int]]]:
        midday = HOURS_PER_DAY // 2
        return [*self.hours.items(), *((day * HOURS_PER_DAY + midday, counts) for day, counts in self.days.items())]

    def window(self, now: float, days: int, delay_hours: int) -> tuple[int, int]:
        end = hour_of(now) - delay_hours
        inside = [counts for at, counts in self.at_their_hour() if end - days * HOURS_PER_DAY <= at < end]
        return sum(c[0] for c in inside), sum(c[1] for c in inside)

    def risk_features(self, now: float, delay_hours: int) -> list[float]:
        result: list[float] = []
        for days in WINDOW_DAYS:
            transactions, frauds = self.window(now, days, delay_hours)
            result += [float(transactions), frauds / transactions if transactions else 0.0]
        hour = hour_of(now)
        fraud_hours = [at for at, counts in self.at_their_hour() if counts[1] and at <= hour]
        if not fraud_hours:
            return [*result, NO_FRAUD_HOURS, NO_FRAUD_HOURS]
        return [*result, float(hour - max(fraud_hours)), float(hour - min(fraud_hours))]

    def to_json(self) -> bytes:
        days, hours = self.days, self.hours
        value = {
            "format": ACTIVITY_FORMAT,
            "days": [list(days), [b[0] for b in days.values()], [b[1] for b in days.values()]],
            "hours": [list(hours), [b[0] for b in hours.values()], [b[1] for b in hours.values()]],
            "frauds": self.frauds,
        }
        return json.dumps(value, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AsDicts:
        value = json.loads(raw)
        loaded = cls()
        if value.get("format") == ACTIVITY_FORMAT:
            loaded.days = {n: [t, f] for n, t, f in zip(*value["days"], strict=True)}
            loaded.hours = {n: [t, f] for n, t, f in zip(*value["hours"], strict=True)}
        else:
            loaded.days = {int(day): bucket for day, bucket in value["days"].items()}
            loaded.hours = {int(hour): bucket for hour, bucket in value.get("hours", {}).items()}
        loaded.frauds = dict(value["frauds"])
        loaded.newest_day = max([*loaded.days, *(h // HOURS_PER_DAY for h in loaded.hours)], default=NO_DAY)
        return loaded


#: (kind, when: hours after T0, how late its payment is: hours before ``when``, a small number): a payment (of
#: that many transactions), a confirmed fraud (of one of a few transaction ids, so some are reported twice), a
#: read of the risk features and windows (at that delay), or the value written and read back.
operations = st.lists(
    st.tuples(
        st.sampled_from(["payment"] * 5 + ["fraud", "fraud", "read", "read", "write and read"]),
        st.integers(min_value=0, max_value=60 * HOURS_PER_DAY),
        st.sampled_from([0] * 8 + [1, 5, 30, 10 * HOURS_PER_DAY, 20 * HOURS_PER_DAY, 50 * HOURS_PER_DAY]),
        st.integers(min_value=0, max_value=4),
    ),
    min_size=1,
    max_size=200,
).map(lambda ops: sorted(ops, key=lambda op: op[1]))


def same_answers(columns: EntityActivity, dicts: AsDicts, now: float, delay: int) -> None:
    assert columns.risk_features(now, delay) == dicts.risk_features(now, delay)
    for days in (1, 7, 30, 44):
        assert columns.window(now, days, delay) == dicts.window(now, days, delay)


@settings(max_examples=400, deadline=None)
@given(operations)
def test_columns_answer_and_write_as_the_dicts(steps: list[tuple[str, int, int, int]]) -> None:
    columns, dicts = EntityActivity(), AsDicts()
    for kind, when, late, number in steps:
        at = T0 + (when - late) * HOUR_S + 60.0
        if kind == "payment":
            columns.add_transaction(at, (0, 1, 1, 2, 7)[number])
            dicts.add_transaction(at, (0, 1, 1, 2, 7)[number])
        elif kind == "fraud":
            assert columns.add_fraud(at, f"T{number}") == dicts.add_fraud(at, f"T{number}")
        elif kind == "read":
            same_answers(columns, dicts, T0 + when * HOUR_S, DELAYS[number])
        else:
            written = columns.to_json()
            assert written == dicts.to_json()
            columns, dicts = EntityActivity.from_json(written), AsDicts.from_json(written)
        # read at the step's hour each time: what a payment or fraud changes must not be answered from the cache
        assert columns.risk_features(T0 + when * HOUR_S, 1) == dicts.risk_features(T0 + when * HOUR_S, 1)
        assert columns.days == dicts.days and list(columns.days) == list(dicts.days)
        assert columns.hours == dicts.hours and list(columns.hours) == list(dicts.hours)
        assert columns.frauds == dicts.frauds and columns.newest_day == dicts.newest_day
    assert columns.to_json() == dicts.to_json()
    for delay in DELAYS:
        same_answers(columns, dicts, T0 + 61 * HOURS_PER_DAY * HOUR_S, delay)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(-20, 20), st.tuples(st.integers(0, 9), st.integers(0, 2)), max_size=30),
    st.dictionaries(st.integers(-20 * HOURS_PER_DAY, 0), st.tuples(st.integers(0, 9), st.integers(0, 2)), max_size=60),
    st.sampled_from([1, 2, ACTIVITY_FORMAT]),
    st.lists(st.integers(-30 * HOURS_PER_DAY, 2 * HOURS_PER_DAY), max_size=20),
)
def test_every_format_loads_and_counts_on_as_the_dicts(
    days: dict[int, tuple[int, int]], hours: dict[int, tuple[int, int]], written_as: int, payments: list[int]
) -> None:
    """Buckets in any order (a late payment's bucket comes last), of any format; then payments and a read."""
    day0, hour0 = day_of(T0) + 40, hour_of(T0) + 40 * HOURS_PER_DAY
    days = {day0 + day: counts for day, counts in days.items()}
    hours = {hour0 + hour: counts for hour, counts in hours.items()}
    if written_as == ACTIVITY_FORMAT:
        value: dict[str, object] = {
            "format": ACTIVITY_FORMAT,
            "days": [list(days), [c[0] for c in days.values()], [c[1] for c in days.values()]],
            "hours": [list(hours), [c[0] for c in hours.values()], [c[1] for c in hours.values()]],
        }
    else:
        value = {"days": {str(day): list(c) for day, c in days.items()}}
        if written_as == 2:
            value |= {"format": 2, "hours": {str(hour): list(c) for hour, c in hours.items()}}
    raw = json.dumps({**value, "frauds": {"F": day0 - 3}}).encode()
    columns, dicts = EntityActivity.from_json(raw), AsDicts.from_json(raw)
    assert columns.to_json() == dicts.to_json()
    for hour in payments:
        columns.add_transaction((hour0 + hour) * HOUR_S)
        dicts.add_transaction((hour0 + hour) * HOUR_S)
    assert columns.to_json() == dicts.to_json()
    for delay in DELAYS:
        same_answers(columns, dicts, (hour0 + 3 * HOURS_PER_DAY) * HOUR_S, delay)


def test_a_payment_after_the_windows_keeps_the_hours_answer_and_one_before_them_does_not() -> None:
    now = T0 + 40 * HOURS_PER_DAY * HOUR_S + 60.0
    activity = EntityActivity()
    for hours_back in range(30 * HOURS_PER_DAY):
        activity.add_transaction(now - hours_back * HOUR_S)
    answer = activity.risk_features(now, 24)
    activity.add_transaction(now)  # the hour scored: after the windows' end
    activity.add_transaction(now - 24 * HOUR_S)  # the windows' last hour is the one before
    assert activity.risk_features(now, 24) is answer
    activity.add_transaction(now - 25 * HOUR_S)  # inside them
    assert activity.risk_features(now, 24) == [answer[0] + 1, 0.0, answer[2] + 1, 0.0, answer[4] + 1, 0.0, *answer[6:]]
    answer = activity.risk_features(now, 24)
    activity.add_fraud(now, "F")  # after the windows, but the fraud ages change
    assert activity.risk_features(now, 24) == [*answer[:6], 0.0, 0.0]
