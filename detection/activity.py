"""Terminal and merchant activity: transactions and confirmed frauds per UTC hour and day, for risk features.

A fraud is counted in the hour of its *transaction* (not of its report), so the share of frauds in
a window is the share among that window's transactions. Windows end ``delay`` hours before the
hour being scored (the label delay: frauds of more recent hours are mostly not reported yet, so
counting them would read an unfinished share as a low one). This is the Handbook's terminal risk,
whose windows end exactly the delay before each payment: ending them at a UTC midnight instead
(sessions 3-5) made them up to a day staler and cost AP .04-.07 (bench/RESULTS.md, session 5).

Beside the windows, the age of the entity's newest and oldest confirmed fraud in the kept days (hours
before the hour scored, every fraud known by then): how recently it was seen compromised and for how
long. Fixed windows cannot tell a terminal whose frauds began two days before the window end from one
whose frauds have gone on for weeks and may have stopped since (session 7, bench/RESULTS.md).

Bounded: the newest ``HOURLY_DAYS`` days are kept per hour (the window ends and the 1-day window
sit there for every delay the kept days serve); older days are folded into one bucket per day,
counted in a window when their midpoint is inside it; days older than the longest window plus the
longest delay are dropped.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

HOUR_S = 3600.0
DAY_S = 86_400.0
HOURS_PER_DAY = 24
#: Windows (days) of the risk features, and the days kept: the longest window plus a delay.
WINDOW_DAYS = (1, 7, 30)
KEPT_DAYS = 30 + 14
#: The latest window end (hours before the hour scored) the kept days serve: the longest window must still fit.
MAX_WINDOW_END_HOURS = (KEPT_DAYS - max(WINDOW_DAYS)) * HOURS_PER_DAY
#: Days kept per hour, counted back from the entity's newest day: the latest window end, the 1-day window
#: before it, and the newest (unfinished) day.
HOURLY_DAYS = MAX_WINDOW_END_HOURS // HOURS_PER_DAY + 2
#: Format of ``to_json``: 2 added hourly buckets (format 1, days only, still loads).
ACTIVITY_FORMAT = 2
#: No day yet: below any real day number.
NO_DAY = -(10**9)
#: The fraud ages when no confirmed fraud is kept: older than any kept one.
NO_FRAUD_HOURS = float(KEPT_DAYS * HOURS_PER_DAY)


def day_of(ts: float) -> int:
    """The UTC day number of an epoch-seconds time."""
    return int(ts // DAY_S)


def hour_of(ts: float) -> int:
    """The UTC hour number of an epoch-seconds time."""
    return int(ts // HOUR_S)


@dataclass(slots=True)
class RunningTotals:
    """An entity's buckets in order of their hour (a day bucket's midpoint hour), with running totals: a
    window's counts are two bisections. A pass over every bucket (up to 16 days of hours) for each
    window cost ~200 µs a call and was the learning backtest's largest stage (bench/RESULTS.md, session 8).
    """

    #: the buckets' hours, ascending
    hours: list[int]
    #: transactions and frauds of the buckets before index i (one more entry than ``hours``)
    transactions: list[int]
    frauds: list[int]
    #: hours of the buckets that hold a confirmed fraud, ascending
    fraud_hours: list[int]

    @classmethod
    def of(cls, hours: dict[int, list[int]], days: dict[int, list[int]]) -> RunningTotals:
        buckets = sorted(
            [(hour, counts[0], counts[1]) for hour, counts in hours.items()]
            + [(day * HOURS_PER_DAY + HOURS_PER_DAY // 2, counts[0], counts[1]) for day, counts in days.items()]
        )
        return cls(
            [at for at, _, _ in buckets],
            list(accumulate((counted for _, counted, _ in buckets), initial=0)),
            list(accumulate((fraud for _, _, fraud in buckets), initial=0)),
            [at for at, _, fraud in buckets if fraud],
        )

    def extend(self, at: int, transactions: int, frauds: int) -> bool:
        """Add counts to the bucket at hour ``at`` if it is the newest; False (nothing changed) otherwise."""
        hours = self.hours
        if hours and at < hours[-1]:
            return False
        if hours and at == hours[-1]:
            self.transactions[-1] += transactions
            self.frauds[-1] += frauds
        else:
            hours.append(at)
            self.transactions.append(self.transactions[-1] + transactions)
            self.frauds.append(self.frauds[-1] + frauds)
        if frauds and (not self.fraud_hours or self.fraud_hours[-1] != at):
            self.fraud_hours.append(at)
        return True

    def between(self, start: int, end: int) -> tuple[int, int]:
        """(transactions, frauds) of the buckets whose hour is in [start, end)."""
        first, last = bisect_left(self.hours, start), bisect_left(self.hours, end)
        return self.transactions[last] - self.transactions[first], self.frauds[last] - self.frauds[first]

    def fraud_span(self, hour: int) -> tuple[int | None, int | None]:
        """The newest and the oldest hour with a fraud at or before ``hour`` (None: none)."""
        fraud_hours = self.fraud_hours
        newest = bisect_right(fraud_hours, hour)
        return (fraud_hours[newest - 1], fraud_hours[0]) if newest else (None, None)


@dataclass(slots=True)
class EntityActivity:
    """One terminal's or merchant's counts (a table value keyed 'terminal:<id>' / 'merchant:<id>')."""

    #: day number -> [transactions, confirmed frauds], for days older than the hourly ones
    days: dict[int, list[int]] = field(default_factory=dict)
    #: hour number -> [transactions, confirmed frauds], for the newest ``HOURLY_DAYS`` days
    hours: dict[int, list[int]] = field(default_factory=dict)
    #: transaction ids of the confirmed frauds counted, with their day (a replayed report counts once)
    frauds: dict[str, int] = field(default_factory=dict)
    #: the newest day counted: where the hourly days begin and what is dropped
    newest_day: int = NO_DAY
    #: (hour scored, window end hour, risk features) of the last ``risk_features`` call: a terminal's risk
    #: changes once an hour at most, and most of its payments in an hour are scored before its next change
    _last: tuple[int, int, list[float]] | None = field(default=None, compare=False, repr=False)
    #: the buckets' running totals, made at the first read and kept while counts only grow at the newest hour
    #: (a payment's, most of the time); None: to be made again
    _totals: RunningTotals | None = field(default=None, compare=False, repr=False)

    def add_transaction(self, ts: float, count: int = 1) -> None:
        self._count(ts, count, 0)

    def add_fraud(self, transaction_ts: float, transaction_id: str) -> bool:
        """Count a confirmed fraud in its transaction's hour; False if already counted or too old to keep."""
        if transaction_id in self.frauds or not self._count(transaction_ts, 0, 1):
            return False
        self.frauds[transaction_id] = day_of(transaction_ts)
        return True

    def _count(self, ts: float, transactions: int, frauds: int) -> bool:
        """Add to the bucket of ``ts`` (made if new); False for a day too old to keep."""
        self._last = None
        hour = hour_of(ts)
        day = hour // HOURS_PER_DAY
        if day > self.newest_day:
            self._roll(day)
        if day > self.newest_day - HOURLY_DAYS:
            buckets, key, at = self.hours, hour, hour
        elif day > self.newest_day - KEPT_DAYS:
            buckets, key, at = self.days, day, day * HOURS_PER_DAY + HOURS_PER_DAY // 2
        else:
            return False
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = [0, 0]
        bucket[0] += transactions
        bucket[1] += frauds
        if self._totals is not None and not self._totals.extend(at, transactions, frauds):
            self._totals = None
        return True

    def _roll(self, newest_day: int) -> None:
        """A new newest day: fold the hours that leave the hourly days into days; drop what no window reaches."""
        self.newest_day = newest_day
        first_hourly = (newest_day - HOURLY_DAYS + 1) * HOURS_PER_DAY
        if self.hours and min(self.hours) < first_hourly:
            self._totals = None  # hours become days, counted at their day's midpoint
            hours = self.hours
            for hour in [h for h in hours if h < first_hourly]:
                counts = hours.pop(hour)
                bucket = self.days.setdefault(hour // HOURS_PER_DAY, [0, 0])
                bucket[0] += counts[0]
                bucket[1] += counts[1]
        oldest = newest_day - KEPT_DAYS
        if self.days and min(self.days) <= oldest:
            self._totals = None
            self.days = {day: bucket for day, bucket in self.days.items() if day > oldest}
            self.frauds = {tx: day for tx, day in self.frauds.items() if day > oldest}

    def window(self, now: float, days: int, delay_hours: int) -> tuple[int, int]:
        """(transactions, frauds) in the ``days`` days that end ``delay_hours`` hours before ``now``'s hour."""
        end = hour_of(now) - delay_hours
        return self._running_totals().between(end - days * HOURS_PER_DAY, end)

    def risk_features(self, now: float, delay_hours: int) -> list[float]:
        """[count, fraud share] for each of WINDOW_DAYS, all ending ``delay_hours`` before ``now``'s hour, then
        the hours since the newest and since the oldest confirmed fraud kept (``fraud_ages``).

        Frauds of a later hour than ``now``'s (an out-of-order payment's) have no age; a day bucket counts at
        its midpoint. The windows share their end: one bisection for it, one for each start (two calls a
        transaction, the terminal's and the merchant's, at every cache miss)."""
        hour = hour_of(now)
        end = hour - delay_hours  # the first hour not counted
        cached = self._last
        if cached is not None and cached[0] == hour and cached[1] == end:
            return cached[2]
        totals = self._running_totals()
        hours, transactions, frauds = totals.hours, totals.transactions, totals.frauds
        last = bisect_left(hours, end)
        transactions_before, frauds_before = transactions[last], frauds[last]
        result: list[float] = []
        for days in WINDOW_DAYS:
            first = bisect_left(hours, end - days * HOURS_PER_DAY, 0, last)  # a start is before the end
            counted = transactions_before - transactions[first]
            result.append(float(counted))
            result.append((frauds_before - frauds[first]) / counted if counted else 0.0)
        newest, oldest = totals.fraud_span(hour)
        if newest is None or oldest is None:
            result += [NO_FRAUD_HOURS, NO_FRAUD_HOURS]
        else:
            result += [float(hour - newest), float(hour - oldest)]
        self._last = (hour, end, result)
        return result

    def _running_totals(self) -> RunningTotals:
        totals = self._totals
        if totals is None:
            totals = self._totals = RunningTotals.of(self.hours, self.days)
        return totals

    def to_json(self) -> bytes:
        value = {"format": ACTIVITY_FORMAT, "days": self.days, "hours": self.hours, "frauds": self.frauds}
        return json.dumps(value, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EntityActivity:
        """Format 2, or format 1 (days only: its recent days keep counting as whole days)."""
        value = json.loads(raw)
        days = {int(day): bucket for day, bucket in value["days"].items()}
        hours = {int(hour): bucket for hour, bucket in value.get("hours", {}).items()}
        newest = max([*days, *(hour // HOURS_PER_DAY for hour in hours)], default=NO_DAY)
        return cls(days, hours, dict(value["frauds"]), newest)


#: Names of the values ``risk_features`` returns, per entity kind prefix.
def risk_feature_names(kind: str) -> tuple[str, ...]:
    windows = tuple(name for days in WINDOW_DAYS for name in (f"{kind}_tx_{days}d", f"{kind}_fraud_share_{days}d"))
    return (*windows, f"{kind}_hours_since_newest_fraud", f"{kind}_hours_since_oldest_fraud")
