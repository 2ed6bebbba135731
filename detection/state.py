"""A customer's recent behaviour: one record per customer, one write per transaction.

Windowed counts (1 min, 1 h, 24 h, card-testing window) are derived from the list of recent
transactions at read time instead of being kept per window: Faust's windowed tables write one
key (and one changelog record) per window per event, which measured 4-10x slower here.
Weeks of memory (7 and 30 days) come from daily buckets (count, amount) in the same record, so
the state stays bounded (at most ``DAILY_BUCKETS`` buckets) and still costs one write per event.

The stored value carries a format version (``STATE_FORMAT``); ``decode_state`` migrates an older
format or resets an unreadable one and says why, so one bad value never blocks a customer.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic_core import from_json, to_json

DAY_S = 86_400.0


class Seen(NamedTuple):
    """One recent transaction as the state remembers it (a JSON array on the wire)."""

    ts: float  # event time, epoch seconds
    transaction_id: str
    amount_eur: float
    merchant_id: str | None
    terminal_id: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    score: int


#: Countries and devices remembered per customer (most recent kept).
MAX_PLACES = 32
#: Daily buckets kept per customer: the longest window (30 days) plus today.
DAILY_BUCKETS = 31
#: Version of the stored value's layout; bump it (and teach ``decode_state`` the old one) on change.
STATE_FORMAT = 2


@dataclass(slots=True)
class CustomerState:
    recent: list[Seen] = field(default_factory=list)
    transactions_seen: int = 0
    log_amount_mean: float = 0.0
    log_amount_var: float = 0.0
    countries: dict[str, float] = field(default_factory=dict)
    devices: dict[str, float] = field(default_factory=dict)
    first_seen: float | None = None
    last_seen: float | None = None
    #: [day number, transactions, amount EUR] per UTC day, oldest first, at most DAILY_BUCKETS.
    daily: list[list[float]] = field(default_factory=list)

    def to_json(self) -> bytes:
        # pydantic_core's encoder (the JSON json.dumps writes, floats in their shortest form either
        # way) in 0.6x the CPU (bench/RESULTS.md, session 11); a loaded worker spent 9 % of its samples here.
        return to_json(
            [
                STATE_FORMAT,
                self.recent,
                self.transactions_seen,
                self.log_amount_mean,
                self.log_amount_var,
                self.countries,
                self.devices,
                self.first_seen,
                self.last_seen,
                self.daily,
            ]
        )

    @classmethod
    def from_json(cls, raw: bytes) -> CustomerState:
        """Decode the current format; raises ``StateFormatError`` on anything else (see ``decode_state``)."""
        state, change = decode_state(raw)
        if change is not None:
            raise StateFormatError(change)
        return state

    def window(self, day: int, days: int) -> tuple[int, float]:
        """(transactions, amount EUR) on the ``days`` UTC days ending with ``day`` (inclusive)."""
        count, amount = 0, 0.0
        since = day - days
        for bucket in reversed(self.daily):
            if bucket[0] <= since:
                break
            if bucket[0] <= day:
                count += int(bucket[1])
                amount += bucket[2]
        return count, amount

    def contains(self, transaction_id: str) -> bool:
        return any(item.transaction_id == transaction_id for item in self.recent)

    @property
    def log_amount_sigma(self) -> float:
        return math.sqrt(self.log_amount_var)

    def record(self, seen: Seen, device_id: str | None, max_transactions: int, window_s: float) -> None:
        """Add a transaction: the recent list stays in event-time order, bounded in length and age."""
        if not self.recent or seen.ts >= self.recent[-1].ts:
            self.recent.append(seen)
        else:  # late arrival
            insort(self.recent, seen, key=lambda item: item.ts)
        horizon = self.recent[-1].ts - window_s
        drop = 0
        while drop < len(self.recent) and self.recent[drop].ts < horizon:
            drop += 1
        drop = max(drop, len(self.recent) - max_transactions)
        if drop:
            del self.recent[:drop]
        self._learn_amount(seen.amount_eur)
        self._add_to_day(int(seen.ts // DAY_S), seen.amount_eur)
        if seen.country:
            _remember(self.countries, seen.country, seen.ts)
        if device_id:
            _remember(self.devices, device_id, seen.ts)
        self.transactions_seen += 1
        self.first_seen = seen.ts if self.first_seen is None else min(self.first_seen, seen.ts)
        self.last_seen = seen.ts if self.last_seen is None else max(self.last_seen, seen.ts)

    def _add_to_day(self, day: int, amount_eur: float) -> None:
        daily = self.daily
        if daily and daily[-1][0] == day:
            daily[-1][1] += 1
            daily[-1][2] += amount_eur
        elif not daily or daily[-1][0] < day:
            daily.append([day, 1, amount_eur])
            if len(daily) > DAILY_BUCKETS or daily[0][0] <= day - DAILY_BUCKETS:
                self.daily = [bucket for bucket in daily if bucket[0] > day - DAILY_BUCKETS]
        else:  # a late transaction: its day's bucket is further back (or missing, or too old to keep)
            if day <= daily[-1][0] - DAILY_BUCKETS:
                return
            for bucket in daily:
                if bucket[0] == day:
                    bucket[1] += 1
                    bucket[2] += amount_eur
                    return
            insort(daily, [day, 1, amount_eur], key=lambda bucket: bucket[0])

    def _learn_amount(self, amount_eur: float) -> None:
        # Exponentially weighted mean/variance of log-amount: exact running mean for the first
        # 20 transactions, then a 5% weight, so habits can drift without keeping history.
        x = math.log(max(amount_eur, 0.01))
        alpha = max(1.0 / (self.transactions_seen + 1), 0.05)
        delta = x - self.log_amount_mean
        self.log_amount_mean += alpha * delta
        self.log_amount_var = (1 - alpha) * (self.log_amount_var + alpha * delta * delta)


def _remember(places: dict[str, float], name: str, ts: float) -> None:
    places[name] = max(ts, places.get(name, ts))
    if len(places) > MAX_PLACES:
        del places[min(places, key=places.__getitem__)]


class StateFormatError(ValueError):
    """A stored customer state is not in the current format (the message says what it was)."""


def decode_state(raw: bytes) -> tuple[CustomerState, str | None]:
    """The stored state and None, or a migrated/fresh state and the reason (a short counter label).

    Reasons: ``migrated_v1`` (the 24 h layout before daily buckets: its recent transactions seed
    today's buckets), ``unknown_format`` (a version this code does not know: reset), ``undecodable``
    (not the JSON layout of any version: reset). A reset loses only that customer's history.
    """
    try:
        value: Any = from_json(raw)  # as json.loads reads it, in 0.6x the CPU
    except ValueError:
        return CustomerState(), "undecodable"
    if not isinstance(value, list) or not value:
        return CustomerState(), "undecodable"
    try:
        if value[0] == STATE_FORMAT:
            _, recent, seen, mean, var, countries, devices, first, last, daily = value
            state = CustomerState(
                list(map(Seen._make, recent)), seen, mean, var, countries, devices, first, last, daily
            )
            return state, None
        if isinstance(value[0], list) and len(value) == 8:  # format 1 had no version field
            recent, seen, mean, var, countries, devices, first, last = value
            state = CustomerState([Seen(*item) for item in recent], seen, mean, var, countries, devices, first, last)
            for item in state.recent:
                state._add_to_day(int(item.ts // DAY_S), item.amount_eur)
            return state, "migrated_v1"
    except (TypeError, ValueError):
        return CustomerState(), "undecodable"
    if isinstance(value[0], int):
        return CustomerState(), "unknown_format"
    return CustomerState(), "undecodable"
