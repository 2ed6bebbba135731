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
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, compress, islice
from operator import lt, sub

import numpy as np

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
#: Format of ``to_json``: 3 writes each kind of bucket as three flat lists (numbers, transactions, frauds);
#: 2 (hourly buckets as objects keyed by hour) and 1 (days only) still load.
ACTIVITY_FORMAT = 3
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


class _Buckets:
    """One kind of bucket (hours, or days) as columns: the bucket numbers ascending, and the running totals of
    transactions and of frauds before each bucket (one entry more than the numbers; the first is any base, only
    differences are read). A bucket's own counts are the difference of two neighbouring totals.

    ``array('q')`` columns hold a bucket in 24 bytes: dicts of two-element lists, with running totals made
    beside them for reading, held ~280 (bench/RESULTS.md, session 12). The totals are kept up to date rather
    than made again: a pass over every bucket for each window cost ~200 µs a call and was the learning
    backtest's largest stage (session 8), and making the totals again after a change cost ~75 µs at the bound.
    """

    __slots__ = ("fraud_numbers", "frauds", "numbers", "order", "transactions")

    def __init__(self) -> None:
        self.numbers = array("q")
        self.transactions = array("q", (0,))
        self.frauds = array("q", (0,))
        #: the numbers of the buckets that hold a confirmed fraud, ascending (few: the fraud ages bisect them)
        self.fraud_numbers = array("q")
        #: the numbers in the order they were first counted, when that is not ascending (None: ascending):
        #: ``to_json`` writes the buckets in that order, as the dicts of earlier versions did
        self.order: array[int] | None = None

    @classmethod
    def of(cls, numbers: list[int], transactions: list[int], frauds: list[int]) -> _Buckets:
        """Buckets from columns in the order counted; a number given twice keeps its first place and its last
        counts (as a dict would). A ValueError if the columns' lengths differ, a TypeError or OverflowError if a
        value is not a 64-bit integer."""
        if not len(numbers) == len(transactions) == len(frauds):
            raise ValueError(f"bucket columns of different lengths: {len(numbers)}, {len(transactions)}, {len(frauds)}")
        buckets = cls()
        if not _ascending(numbers):
            counted = {
                number: (counts, fraud) for number, counts, fraud in zip(numbers, transactions, frauds, strict=True)
            }
            numbers = sorted(counted)
            transactions = [counted[number][0] for number in numbers]
            frauds = [counted[number][1] for number in numbers]
            if list(counted) != numbers:
                buckets.order = array("q", counted)
        buckets.numbers = array("q", numbers)
        buckets.transactions = array("q", list(accumulate(transactions, initial=0)))  # from a list: ~1.3x faster
        buckets.frauds = array("q", list(accumulate(frauds, initial=0)))
        buckets.fraud_numbers = array("q", compress(numbers, frauds))
        return buckets

    def add(self, number: int, transactions: int, frauds: int) -> None:
        """Add counts to bucket ``number`` (made if new)."""
        numbers, totals, fraud_totals = self.numbers, self.transactions, self.frauds
        if frauds:
            self._holds_a_fraud(number)
        count = len(numbers)
        if count and numbers[-1] == number:  # the newest bucket: a payment's, most of the time
            totals[count] += transactions
            fraud_totals[count] += frauds
            return
        if not count or numbers[-1] < number:
            numbers.append(number)
            totals.append(totals[count] + transactions)
            fraud_totals.append(fraud_totals[count] + frauds)
            if self.order is not None:
                self.order.append(number)
            return
        at = bisect_left(numbers, number)  # an older bucket: a fraud's (reported later), or a late payment's
        if numbers[at] != number:  # a new bucket before the newest: the order counted is no longer ascending
            if self.order is None:
                self.order = array("q", numbers)
            self.order.append(number)
            numbers.insert(at, number)
            totals.insert(at + 1, totals[at])
            fraud_totals.insert(at + 1, fraud_totals[at])
        if transactions:
            totals[at + 1 :] = array("q", map(transactions.__add__, totals[at + 1 :]))
        if frauds:
            fraud_totals[at + 1 :] = array("q", map(frauds.__add__, fraud_totals[at + 1 :]))

    def _holds_a_fraud(self, number: int) -> None:
        fraud_numbers = self.fraud_numbers
        at = bisect_left(fraud_numbers, number)
        if at == len(fraud_numbers) or fraud_numbers[at] != number:
            fraud_numbers.insert(at, number)

    def counts(self) -> tuple[list[int], list[int]]:
        """Each bucket's transactions and frauds, in the order of ``numbers``."""
        transactions = _differences(self.transactions)
        return transactions, _differences(self.frauds) if self.fraud_numbers else [0] * len(transactions)

    def columns(self) -> list[list[int]]:
        """[numbers, transactions, frauds] in the order counted (format 3's)."""
        transactions, frauds = self.counts()
        if self.order is None:
            return [self.numbers.tolist(), transactions, frauds]
        place = {number: index for index, number in enumerate(self.numbers)}
        order = [place[number] for number in self.order]
        return [self.order.tolist(), [transactions[i] for i in order], [frauds[i] for i in order]]

    def drop_before(self, number: int) -> list[tuple[int, int, int]]:
        """Remove the buckets numbered below ``number``; return them as (number, transactions, frauds), in the
        order counted."""
        end = bisect_left(self.numbers, number)
        if not end:
            return []
        numbers, totals, fraud_totals = self.numbers, self.transactions, self.frauds
        dropped = [(numbers[i], totals[i + 1] - totals[i], fraud_totals[i + 1] - fraud_totals[i]) for i in range(end)]
        del numbers[:end], totals[:end], fraud_totals[:end]
        del self.fraud_numbers[: bisect_left(self.fraud_numbers, number)]
        if self.order is not None:
            place = {counted: index for index, counted in enumerate(self.order)}
            dropped.sort(key=lambda bucket: place[bucket[0]])
            order = array("q", (counted for counted in self.order if counted >= number))
            self.order = None if _ascending(order) else order
        return dropped

    def fraud_span(self, number: int) -> tuple[int, int] | None:
        """The numbers of the newest and the oldest bucket with a fraud numbered ``number`` or below (None: none)."""
        fraud_numbers = self.fraud_numbers
        if not fraud_numbers or fraud_numbers[0] > number:
            return None
        return fraud_numbers[bisect_right(fraud_numbers, number) - 1], fraud_numbers[0]

    def as_dict(self) -> dict[int, list[int]]:
        numbers, transactions, frauds = self.columns()
        return {number: [counted, fraud] for number, counted, fraud in zip(numbers, transactions, frauds, strict=True)}


#: Where the risk windows are bounded, hours before their end: the end, then each window's start.
_WINDOW_BOUNDS = (0, *(days * HOURS_PER_DAY for days in WINDOW_DAYS))


def _differences(totals: array[int]) -> list[int]:
    """Each item of running totals less the one before: numpy's over the array's buffer for many (4 µs for 400
    against Python's 12), Python's for a few (numpy's calls cost ~3 µs whatever the length)."""
    if len(totals) > 64:
        differences: list[int] = np.diff(np.frombuffer(totals, dtype=np.int64)).tolist()
        return differences
    listed = totals.tolist()
    return list(map(sub, listed[1:], listed))


def _ascending(numbers: Sequence[int]) -> bool:
    return all(map(lt, numbers, islice(numbers, 1, None)))


class EntityActivity:
    """One terminal's or merchant's counts (a table value keyed 'terminal:<id>' / 'merchant:<id>')."""

    __slots__ = ("_days", "_hours", "_last", "folded_offset", "frauds", "newest_day")

    def __init__(self) -> None:
        #: days older than the hourly ones, by day number
        self._days = _Buckets()
        #: the newest ``HOURLY_DAYS`` days, by hour number
        self._hours = _Buckets()
        #: transaction ids of the confirmed frauds counted, with their day (a replayed report counts once)
        self.frauds: dict[str, int] = {}
        #: the newest day counted: where the hourly days begin and what is dropped
        self.newest_day = NO_DAY
        #: (hour scored, window end hour, risk features) of the last ``risk_features`` call: a terminal's risk
        #: changes once an hour at most, and most of its payments in an hour are scored before its next change
        self._last: tuple[int, int, list[float]] | None = None
        #: the offset of the last activity-topic record folded into this value (-1: none known, as in values
        #: written before session 12): a fold that meets a record again skips it, so no record counts twice
        #: whatever a crash or a rebalance left in the table (detection.decisions.fold_activity_record)
        self.folded_offset = -1

    @property
    def days(self) -> dict[int, list[int]]:
        """Day number -> [transactions, confirmed frauds], for days older than the hourly ones (a copy)."""
        return self._days.as_dict()

    @property
    def hours(self) -> dict[int, list[int]]:
        """Hour number -> [transactions, confirmed frauds], for the newest ``HOURLY_DAYS`` days (a copy)."""
        return self._hours.as_dict()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntityActivity):
            return NotImplemented
        return (self.days, self.hours, self.frauds, self.newest_day) == (
            other.days,
            other.hours,
            other.frauds,
            other.newest_day,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"EntityActivity(days={self.days}, hours={self.hours}, frauds={self.frauds}, newest_day={self.newest_day})"
        )

    def add_transaction(self, ts: float, count: int = 1) -> None:
        self._count(ts, count, 0)

    def add_fraud(self, transaction_ts: float, transaction_id: str) -> bool:
        """Count a confirmed fraud in its transaction's hour; False if already counted or too old to keep."""
        if transaction_id in self.frauds or not self._count(transaction_ts, 0, 1):
            return False
        self.frauds[transaction_id] = day_of(transaction_ts)
        return True

    def _count(self, ts: float, transactions: int, frauds: int) -> bool:
        """Add to the bucket of ``ts`` (made if new); False for a day too old to keep.

        The risk features cached for an hour stay while only transactions at or after their windows' end are
        added: a payment in the newest hour, scored before it was counted, changes no window of its hour."""
        hour = hour_of(ts)
        day = hour // HOURS_PER_DAY
        if day > self.newest_day:
            self._last = None
            self._roll(day)
        if day > self.newest_day - HOURLY_DAYS:
            self._hours.add(hour, transactions, frauds)
            at = hour
        elif day > self.newest_day - KEPT_DAYS:
            self._days.add(day, transactions, frauds)
            at = day * HOURS_PER_DAY + HOURS_PER_DAY // 2
        else:
            return False
        cached = self._last
        if cached is not None and (frauds or at < cached[1]):
            self._last = None
        return True

    def _roll(self, newest_day: int) -> None:
        """A new newest day: fold the hours that leave the hourly days into days; drop what no window reaches."""
        self.newest_day = newest_day
        for hour, transactions, frauds in self._hours.drop_before((newest_day - HOURLY_DAYS + 1) * HOURS_PER_DAY):
            self._days.add(hour // HOURS_PER_DAY, transactions, frauds)  # counted at its day's midpoint from now
        oldest = newest_day - KEPT_DAYS
        if self._days.drop_before(oldest + 1):
            self.frauds = {tx: day for tx, day in self.frauds.items() if day > oldest}

    def window(self, now: float, days: int, delay_hours: int) -> tuple[int, int]:
        """(transactions, frauds) in the ``days`` days that end ``delay_hours`` hours before ``now``'s hour."""
        end = hour_of(now) - delay_hours
        transactions, frauds, first_transactions, first_frauds = self._totals_before(end, (0, days * HOURS_PER_DAY))
        return transactions - first_transactions, frauds - first_frauds

    def risk_features(self, now: float, delay_hours: int) -> list[float]:
        """[count, fraud share] for each of WINDOW_DAYS, all ending ``delay_hours`` before ``now``'s hour, then
        the hours since the newest and since the oldest confirmed fraud kept (``fraud_ages``).

        Frauds of a later hour than ``now``'s (an out-of-order payment's) have no age; a day bucket counts at
        its midpoint. The windows share their end: running totals before it, then before each start (two calls
        a transaction, the terminal's and the merchant's, at every cache miss)."""
        hour = hour_of(now)
        end = hour - delay_hours  # the first hour not counted
        cached = self._last
        if cached is not None and cached[0] == hour and cached[1] == end:
            return cached[2]
        totals = self._totals_before(end, _WINDOW_BOUNDS)
        transactions, frauds = totals[0], totals[1]
        result: list[float] = []
        for at in range(2, len(totals), 2):
            counted = transactions - totals[at]
            result.append(float(counted))
            result.append((frauds - totals[at + 1]) / counted if counted else 0.0)
        span = self._fraud_span(hour) if self._hours.fraud_numbers or self._days.fraud_numbers else None
        if span is None:
            result += [NO_FRAUD_HOURS, NO_FRAUD_HOURS]
        else:
            result += [float(hour - span[0]), float(hour - span[1])]
        self._last = (hour, end, result)
        return result

    def _totals_before(self, end: int, hours_back: tuple[int, ...]) -> list[int]:
        """For each bound (``end`` less each of ``hours_back``), the running totals of transactions and of frauds
        of the buckets before it (a day's at its midpoint), flat; each kind's base included: only the difference of
        two is a count.

        At most ``bound - first`` of a kind's distinct numbers are below a bound and at most ``last - bound + 1``
        are not, so the bisection searches between those: nowhere where every hour has a bucket (a busy
        terminal's), less far elsewhere (bisecting an array makes an int of each probe, ~3x a list's time)."""
        hours, days = self._hours, self._days
        numbers, totals, frauds = hours.numbers, hours.transactions, hours.frauds
        day_numbers, day_totals, day_frauds = days.numbers, days.transactions, days.frauds
        count, day_count = len(numbers), len(day_numbers)
        first, last = (numbers[0], numbers[-1]) if count else (0, -1)
        first_day, last_day = (day_numbers[0], day_numbers[-1]) if day_count else (0, -1)
        after_days = last_day * HOURS_PER_DAY + HOURS_PER_DAY // 2  # after the last midpoint: every day before
        result: list[int] = []
        for back in hours_back:
            bound = end - back
            if bound <= first:
                at = 0
            elif bound > last:
                at = count
            else:
                at, most = bound - last + count - 1, bound - first
                if at < most:
                    at = bisect_left(numbers, bound, max(at, 0), min(most, count))
            if bound > after_days:
                on = day_count
            else:
                day = -((HOURS_PER_DAY // 2 - bound) // HOURS_PER_DAY)  # the first day whose midpoint is not before
                if day <= first_day:
                    on = 0
                else:
                    on, most = day - last_day + day_count - 1, day - first_day
                    if on < most:
                        on = bisect_left(day_numbers, day, max(on, 0), min(most, day_count))
            result.append(totals[at] + day_totals[on])
            result.append(frauds[at] + day_frauds[on])
        return result

    def _fraud_span(self, hour: int) -> tuple[int, int] | None:
        """The hours of the newest and the oldest bucket with a fraud at or before ``hour`` (None: none)."""
        span = self._hours.fraud_span(hour)
        in_days = self._days.fraud_span((hour - HOURS_PER_DAY // 2) // HOURS_PER_DAY)  # the last midpoint not after
        if in_days is None:
            return span
        newest, oldest = (
            in_days[0] * HOURS_PER_DAY + HOURS_PER_DAY // 2,
            in_days[1] * HOURS_PER_DAY + HOURS_PER_DAY // 2,
        )
        return (newest, oldest) if span is None else (max(span[0], newest), min(span[1], oldest))

    def to_json(self) -> bytes:
        """Flat lists, not objects keyed by bucket: an entity at its bound holds ~400 buckets, and every delta
        folded re-encodes it and every worker decodes it again; keyed objects cost 1.6x to encode and 2.7x to
        decode (string keys made and parsed back to ints; bench/RESULTS.md, session 11). Each kind's buckets
        in the order they were first counted."""
        value = {
            "format": ACTIVITY_FORMAT,
            "days": self._days.columns(),
            "hours": self._hours.columns(),
            "frauds": self.frauds,
        }
        if self.folded_offset >= 0:
            value["offset"] = self.folded_offset
        return _ENCODER.encode(value).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EntityActivity:
        """Format 3, 2, or 1 (days only: its recent days keep counting as whole days)."""
        value = json.loads(raw)
        activity = cls()
        if value.get("format") == ACTIVITY_FORMAT:
            activity._days = _Buckets.of(*_three(value["days"]))
            activity._hours = _Buckets.of(*_three(value["hours"]))
        else:
            activity._days = _keyed(value["days"])
            activity._hours = _keyed(value.get("hours", {}))
        activity.frauds = dict(value["frauds"])
        activity.folded_offset = int(value.get("offset", -1))
        days, hours = activity._days.numbers, activity._hours.numbers
        activity.newest_day = max([*days[-1:], *(hour // HOURS_PER_DAY for hour in hours[-1:])], default=NO_DAY)
        return activity


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _three(columns: list[list[int]]) -> tuple[list[int], list[int], list[int]]:
    """Format 3's [numbers, transactions, frauds]."""
    numbers, transactions, frauds = columns
    return numbers, transactions, frauds


def _keyed(buckets: dict[str, list[int]]) -> _Buckets:
    """Formats 1 and 2: {"number": [transactions, frauds]}."""
    counted = {int(number): counts for number, counts in buckets.items()}
    return _Buckets.of(
        list(counted), [counts[0] for counts in counted.values()], [counts[1] for counts in counted.values()]
    )


#: Names of the values ``risk_features`` returns, per entity kind prefix.
def risk_feature_names(kind: str) -> tuple[str, ...]:
    windows = tuple(name for days in WINDOW_DAYS for name in (f"{kind}_tx_{days}d", f"{kind}_fraud_share_{days}d"))
    return (*windows, f"{kind}_hours_since_newest_fraud", f"{kind}_hours_since_oldest_fraud")
