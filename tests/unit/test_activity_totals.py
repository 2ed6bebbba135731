"""Terminal/merchant risk windows read from running totals equal a plain count over every bucket."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detection.activity import HOUR_S, HOURS_PER_DAY, NO_FRAUD_HOURS, WINDOW_DAYS, EntityActivity, hour_of

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

#: (kind, hours after T0, delay hours): a payment, a confirmed fraud (of a payment that many hours after T0),
#: or a read of the risk features at that hour with windows ending ``delay`` hours before it.
operations = st.lists(
    st.tuples(
        st.sampled_from(["payment", "payment", "payment", "fraud", "read"]),
        st.integers(min_value=0, max_value=60 * HOURS_PER_DAY),
        st.sampled_from([1, 24, 72, 7 * HOURS_PER_DAY, 14 * HOURS_PER_DAY]),
    ),
    min_size=1,
    max_size=120,
).map(lambda ops: sorted(ops, key=lambda op: op[1] + (op[0] == "fraud") * 500))  # mostly in time order


def buckets_at_their_hour(activity: EntityActivity) -> list[tuple[int, list[int]]]:
    """Every bucket at its hour (a day at its midpoint)."""
    days = [(d * HOURS_PER_DAY + HOURS_PER_DAY // 2, counts) for d, counts in activity.days.items()]
    return [*activity.hours.items(), *days]


def window_plainly(activity: EntityActivity, end: int, days: int) -> tuple[int, int]:
    """(transactions, frauds) of the buckets in the ``days`` days before hour ``end``, one by one."""
    inside = [counts for at, counts in buckets_at_their_hour(activity) if end - days * HOURS_PER_DAY <= at < end]
    return sum(c[0] for c in inside), sum(c[1] for c in inside)


def counted_plainly(activity: EntityActivity, now: float, delay_hours: int) -> list[float]:
    """The risk features by their definition (detection.activity's module note)."""
    hour = hour_of(now)
    result: list[float] = []
    for days in WINDOW_DAYS:
        transactions, frauds = window_plainly(activity, hour - delay_hours, days)
        result += [float(transactions), frauds / transactions if transactions else 0.0]
    fraud_hours = [at for at, counts in buckets_at_their_hour(activity) if counts[1] and at <= hour]
    if fraud_hours:
        return [*result, float(hour - max(fraud_hours)), float(hour - min(fraud_hours))]
    return [*result, NO_FRAUD_HOURS, NO_FRAUD_HOURS]


@settings(max_examples=300, deadline=None)
@given(operations)
def test_risk_features_equal_a_count_over_every_bucket(steps: list[tuple[str, int, int]]) -> None:
    activity = EntityActivity()
    for number, (kind, hours, delay) in enumerate(steps):
        at = T0 + hours * HOUR_S + 60.0
        if kind == "payment":
            activity.add_transaction(at)
        elif kind == "fraud":
            activity.add_fraud(at, f"T{number}")
        else:
            assert activity.risk_features(at, delay) == counted_plainly(activity, at, delay)
            assert activity.window(at, 7, delay) == window_plainly(activity, hour_of(at) - delay, 7)
    last = T0 + 61 * HOURS_PER_DAY * HOUR_S
    for delay in (1, 72, 14 * HOURS_PER_DAY):
        assert activity.risk_features(last, delay) == counted_plainly(activity, last, delay)
        restored = EntityActivity.from_json(activity.to_json())
        assert restored.risk_features(last, delay) == activity.risk_features(last, delay)
