"""The label delay learned from feedback: how many days after a payment its fraud becomes known.

Terminal and merchant fraud-share windows end this many days before the day scored
(detection.activity): a window reaching later days would read frauds not reported yet as a low
share. Each data source has its own delay (a week for card chargebacks, a day for an analyst
queue), and every confirmed fraud measures it: the day buckets from its payment's day to the
first day that starts after its ``known_at`` — the window end at which its day is complete when
a day's scoring begins. Counted so, a window is as complete in the backtest (activity caught up
at each midnight) as live (caught up continuously), and a delay of hours ends windows at
yesterday, not at today's unfinished day. Measured against the plain day difference on four
parameter sets (bench/RESULTS.md, session 4): equal on two, better on the two others.
``LabelDelay`` keeps those as a histogram of whole days (bounded: one count per day up to
``MAX_OBSERVED_DAYS``, longer ones in the last bin); the window end is a high quantile of it,
and the rules file's ``[learning] label_delay_days`` serves until enough frauds were seen.

Point in time: the backtest and the live activity agent observe a fraud when its feedback is
applied, so a transaction is scored with the estimate of its moment (and the decisions log
records the delay its features assumed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from detection.activity import KEPT_DAYS, WINDOW_DAYS, EntityActivity, day_of
from detection.rules_config import Learning

#: Delays are counted up to the chargeback horizon; a longer one counts in the last bin.
MAX_OBSERVED_DAYS = 120
#: The latest window end the kept activity days can serve (the longest window must still fit).
MAX_WINDOW_END_DAYS = KEPT_DAYS - max(WINDOW_DAYS)


def whole_days(transaction_ts: float, known_at: float) -> int:
    """Day buckets from a payment's day to the first day starting after its report (at least 1:
    a report the same day completes the payment's day for tomorrow's scoring; a report dated
    before its payment, clock skew, counts as that)."""
    days = day_of(known_at) - day_of(transaction_ts) + 1
    return min(max(days, 1), MAX_OBSERVED_DAYS)


@dataclass(slots=True)
class LabelDelay:
    """Confirmed frauds per whole-day delay between payment and report (index = days)."""

    counts: list[int] = field(default_factory=lambda: [0] * (MAX_OBSERVED_DAYS + 1))
    #: (settings, window end) of the last ``window_end`` call: it changes only when a fraud is observed
    _last: tuple[Learning, int] | None = field(default=None, compare=False, repr=False)

    @property
    def frauds(self) -> int:
        return sum(self.counts)

    def observe(self, transaction_ts: float, known_at: float) -> None:
        """Count one confirmed fraud (the caller makes sure each is observed once)."""
        self.counts[whole_days(transaction_ts, known_at)] += 1
        self._last = None

    def quantile(self, share: float) -> int | None:
        """The fewest whole days within which ``share`` of the observed frauds were known (None: none seen)."""
        total = self.frauds
        if not total:
            return None
        needed = math.ceil(share * total - 1e-9)
        seen = 0
        for days, count in enumerate(self.counts):
            seen += count
            if seen >= needed:
                return days
        return MAX_OBSERVED_DAYS

    def window_end(self, settings: Learning) -> int:
        """Days before the scored day at which fraud-share windows end: the learned quantile once
        ``label_delay_min_frauds`` frauds were seen (capped at what the kept days serve), else the prior."""
        last = self._last
        if last is not None and last[0] is settings:
            return last[1]
        learned = self.quantile(settings.label_delay_quantile)
        if learned is None or self.frauds < settings.label_delay_min_frauds:
            end = settings.label_delay_days
        else:
            end = min(learned, MAX_WINDOW_END_DAYS)
        self._last = (settings, end)
        return end

    def summary(self, settings: Learning) -> dict[str, float | int | None]:
        """What an analyst needs to read the risk features: the delay they assumed and where it came from."""
        return {
            "label_delay_days": self.window_end(settings),
            "prior_days": settings.label_delay_days,
            "quantile": settings.label_delay_quantile,
            "learned_days": self.quantile(settings.label_delay_quantile),
            "frauds_observed": self.frauds,
            "median_days": self.quantile(0.5),
        }

    def to_json(self) -> bytes:
        # Trailing empty bins are left out: most delays are short.
        counts = list(self.counts)
        while counts and counts[-1] == 0:
            counts.pop()
        return json.dumps({"counts": counts}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LabelDelay:
        stored = [int(c) for c in json.loads(raw)["counts"]][: MAX_OBSERVED_DAYS + 1]
        return cls(stored + [0] * (MAX_OBSERVED_DAYS + 1 - len(stored)))


def count_fraud(
    activity: EntityActivity,
    transaction_ts: float,
    transaction_id: str,
    known_at: float | None = None,
    label_delay: LabelDelay | None = None,
) -> bool:
    """Count a confirmed fraud on its terminal's or merchant's activity (once), and, given its
    ``known_at``, teach ``label_delay`` its delay the first time — also when the day is too old to
    keep, since a long delay is what the estimate must see. True when the activity changed.

    The live activity agent and the backtest's learner both count frauds here; each hands
    ``known_at`` with one entity per fraud (its terminal's, else its merchant's).
    """
    first = transaction_id not in activity.frauds
    counted = activity.add_fraud(transaction_ts, transaction_id)
    if first and known_at is not None and label_delay is not None:
        label_delay.observe(transaction_ts, known_at)
    return counted
