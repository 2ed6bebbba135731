"""Terminal and merchant activity: transactions and confirmed frauds per UTC day, for risk features.

A fraud is counted on the day of its *transaction* (not of its report), so the share of frauds in
a window is the share among that window's transactions. Windows end ``delay`` days before the
day being scored (the label delay: frauds of more recent days are mostly not reported yet, so
counting them would read an unfinished share as a low one). This is the Handbook's terminal risk.

Bounded: days older than the longest window plus the longest delay are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DAY_S = 86_400.0
#: Windows (days) of the risk features, and the days kept: the longest window plus a delay.
WINDOW_DAYS = (1, 7, 30)
KEPT_DAYS = 30 + 14


def day_of(ts: float) -> int:
    """The UTC day number of an epoch-seconds time."""
    return int(ts // DAY_S)


@dataclass(slots=True)
class EntityActivity:
    """One terminal's or merchant's daily counts (a table value keyed 'terminal:<id>' / 'merchant:<id>')."""

    #: day number -> [transactions, confirmed frauds]
    days: dict[int, list[int]] = field(default_factory=dict)
    #: transaction ids of the confirmed frauds counted, with their day (a replayed report counts once)
    frauds: dict[str, int] = field(default_factory=dict)
    #: (day, delay, risk features) of the last ``risk_features`` call: a terminal's risk changes once a
    #: day, and most of its payments in a day are scored before its next change
    _last: tuple[int, int, list[float]] | None = field(default=None, compare=False, repr=False)

    def add_transaction(self, ts: float) -> None:
        day = day_of(ts)
        self._last = None
        bucket = self.days.get(day)
        if bucket is None:
            self.days[day] = [1, 0]
            self._prune(day)
        else:
            bucket[0] += 1

    def add_fraud(self, transaction_ts: float, transaction_id: str) -> bool:
        """Count a confirmed fraud on its transaction's day; False if already counted or too old to keep."""
        if transaction_id in self.frauds:
            return False
        day = day_of(transaction_ts)
        if self.days and day <= max(self.days) - KEPT_DAYS:
            return False
        self.frauds[transaction_id] = day
        self._last = None
        bucket = self.days.setdefault(day, [0, 0])
        bucket[1] += 1
        return True

    def window(self, now: float, days: int, delay: int) -> tuple[int, int]:
        """(transactions, frauds) on the ``days`` days that end ``delay`` days before ``now``'s day."""
        last = day_of(now) - delay
        transactions = frauds = 0
        for day in range(last - days + 1, last + 1):
            bucket = self.days.get(day)
            if bucket is not None:
                transactions += bucket[0]
                frauds += bucket[1]
        return transactions, frauds

    def count(self, now: float, days: int, delay: int) -> int:
        return self.window(now, days, delay)[0]

    def fraud_share(self, now: float, days: int, delay: int) -> float:
        transactions, frauds = self.window(now, days, delay)
        return frauds / transactions if transactions else 0.0

    def risk_features(self, now: float, delay: int) -> list[float]:
        """[count, fraud share] for each of WINDOW_DAYS, in one pass over the kept days."""
        last = day_of(now) - delay
        cached = self._last
        if cached is not None and cached[0] == last and cached[1] == delay:
            return cached[2]
        result: list[float] = []
        transactions = frauds = 0
        day = last
        for size in WINDOW_DAYS:
            while day > last - size:
                bucket = self.days.get(day)
                if bucket is not None:
                    transactions += bucket[0]
                    frauds += bucket[1]
                day -= 1
            result.append(float(transactions))
            result.append(frauds / transactions if transactions else 0.0)
        self._last = (last, delay, result)
        return result

    def _prune(self, today: int) -> None:
        oldest = today - KEPT_DAYS
        if min(self.days) <= oldest:
            self.days = {day: bucket for day, bucket in self.days.items() if day > oldest}
            self.frauds = {tx: day for tx, day in self.frauds.items() if day > oldest}

    def to_json(self) -> bytes:
        return json.dumps({"days": self.days, "frauds": self.frauds}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EntityActivity:
        value = json.loads(raw)
        return cls({int(day): bucket for day, bucket in value["days"].items()}, dict(value["frauds"]))


#: Names of the values ``risk_features`` returns, per entity kind prefix.
def risk_feature_names(kind: str) -> tuple[str, ...]:
    return tuple(name for days in WINDOW_DAYS for name in (f"{kind}_tx_{days}d", f"{kind}_fraud_share_{days}d"))
