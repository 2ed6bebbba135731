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
from dataclasses import dataclass, field

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

    def add_transaction(self, ts: float, count: int = 1) -> None:
        bucket = self._bucket(ts)
        if bucket is not None:
            bucket[0] += count

    def add_fraud(self, transaction_ts: float, transaction_id: str) -> bool:
        """Count a confirmed fraud in its transaction's hour; False if already counted or too old to keep."""
        if transaction_id in self.frauds:
            return False
        bucket = self._bucket(transaction_ts)
        if bucket is None:
            return False
        self.frauds[transaction_id] = day_of(transaction_ts)
        bucket[1] += 1
        return True

    def _bucket(self, ts: float) -> list[int] | None:
        """The [transactions, frauds] bucket of ``ts`` (made if new), or None for a day too old to keep."""
        self._last = None
        hour = hour_of(ts)
        day = hour // HOURS_PER_DAY
        if day > self.newest_day:
            self._roll(day)
        if day > self.newest_day - HOURLY_DAYS:
            buckets, key = self.hours, hour
        elif day > self.newest_day - KEPT_DAYS:
            buckets, key = self.days, day
        else:
            return None
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = [0, 0]
        return bucket

    def _roll(self, newest_day: int) -> None:
        """A new newest day: fold the hours that leave the hourly days into days; drop what no window reaches."""
        self.newest_day = newest_day
        first_hourly = (newest_day - HOURLY_DAYS + 1) * HOURS_PER_DAY
        if self.hours and min(self.hours) < first_hourly:
            hours = self.hours
            for hour in [h for h in hours if h < first_hourly]:
                counts = hours.pop(hour)
                bucket = self.days.setdefault(hour // HOURS_PER_DAY, [0, 0])
                bucket[0] += counts[0]
                bucket[1] += counts[1]
        oldest = newest_day - KEPT_DAYS
        if self.days and min(self.days) <= oldest:
            self.days = {day: bucket for day, bucket in self.days.items() if day > oldest}
            self.frauds = {tx: day for tx, day in self.frauds.items() if day > oldest}

    def window(self, now: float, days: int, delay_hours: int) -> tuple[int, int]:
        """(transactions, frauds) in the ``days`` days that end ``delay_hours`` hours before ``now``'s hour."""
        transactions, frauds, _ = self._sums(hour_of(now) - delay_hours, (days,))
        return transactions[0], frauds[0]

    def risk_features(self, now: float, delay_hours: int) -> list[float]:
        """[count, fraud share] for each of WINDOW_DAYS, all ending ``delay_hours`` before ``now``'s hour, then
        the hours since the newest and since the oldest confirmed fraud kept (``fraud_ages``)."""
        hour = hour_of(now)
        end = hour - delay_hours  # the first hour not counted
        cached = self._last
        if cached is not None and cached[0] == hour and cached[1] == end:
            return cached[2]
        transactions, frauds, (newest, oldest) = self._sums(end, WINDOW_DAYS, hour)
        result: list[float] = []
        for counted, fraud in zip(transactions, frauds, strict=True):
            result.append(float(counted))
            result.append(fraud / counted if counted else 0.0)
        if newest is None or oldest is None:
            result += [NO_FRAUD_HOURS, NO_FRAUD_HOURS]
        else:
            result += [float(hour - newest), float(hour - oldest)]
        self._last = (hour, end, result)
        return result

    def _sums(
        self, end: int, window_days: tuple[int, ...], hour: int | None = None
    ) -> tuple[list[int], list[int], tuple[int | None, int | None]]:
        """Transactions and frauds per window (increasing days) before hour ``end``, in one pass over the buckets;
        and the newest and the oldest hour with a fraud at or before ``hour`` (frauds of a later hour, an
        out-of-order payment's, are not counted; a day bucket counts at its midpoint; None: none or no ``hour``)."""
        starts = [end - days * HOURS_PER_DAY for days in window_days]
        oldest = starts[-1]
        transactions = [0] * len(starts)
        frauds = [0] * len(starts)
        newest_fraud = oldest_fraud = None
        for buckets, width, offset in ((self.hours, 1, 0), (self.days, HOURS_PER_DAY, HOURS_PER_DAY // 2)):
            for key, (counted, fraud) in buckets.items():
                at = key * width + offset  # an hour's own number; a day's midpoint hour
                if fraud and hour is not None and at <= hour:
                    newest_fraud = at if newest_fraud is None or at > newest_fraud else newest_fraud
                    oldest_fraud = at if oldest_fraud is None or at < oldest_fraud else oldest_fraud
                if at >= end or at < oldest:
                    continue
                for index, start in enumerate(starts):
                    if at >= start:  # windows nest: in this one, so in every longer one
                        for longer in range(index, len(starts)):
                            transactions[longer] += counted
                            frauds[longer] += fraud
                        break
        return transactions, frauds, (newest_fraud, oldest_fraud)

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
