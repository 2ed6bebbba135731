"""The label delay learned from feedback: how many hours after a payment its fraud becomes known.

Terminal and merchant fraud-share windows end this many hours before the hour scored
(detection.activity): a window reaching later hours would read frauds not reported yet as a low
share. Each data source has its own delay (a week for card chargebacks, a day for an analyst
queue), and every confirmed fraud measures it: the whole hours from its payment to its
``known_at``, rounded up (at least 1). A window ending that many hours before the hour scored is
complete for that fraud as soon as the hour starts: in the backtest (activity caught up at each
hour, ``[learning] activity_sync_hours``) as live (caught up continuously). Sessions 4-5 counted
whole days to a UTC midnight, which left windows up to a day staler than the delay needs (session 6
measured hours against it, bench/RESULTS.md). ``LabelDelay`` keeps those as a histogram of hours
(bounded: one count per hour up to ``MAX_OBSERVED_HOURS``, longer ones in the last bin); the
window end is a high quantile of it, and the rules file's ``[learning] label_delay_days`` serves
until enough frauds were seen. Each fraud weighs by how recent its report is (half-life ``[learning]
label_delay_half_life_days``, 14): without it, after months of week-long chargebacks a faster source
left the windows a week staler than needed for as long as the history outvoted it (bench.label_delay_decay).

Point in time: the backtest and the live activity agent observe a fraud when its feedback is
applied, so a transaction is scored with the estimate of its moment (and the decisions log
records the delay its features assumed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from detection.activity import DAY_S, HOUR_S, HOURS_PER_DAY, MAX_WINDOW_END_HOURS, EntityActivity
from detection.rules_config import Learning

#: Delays are counted up to the chargeback horizon (120 days); a longer one counts in the last bin.
MAX_OBSERVED_HOURS = 120 * HOURS_PER_DAY
#: Format of ``to_json``: 2 counts hours (format 1, whole days to the first midnight after the report, loads as
#: those days' hours: an older window end, never one the frauds it was learned from had not completed).
DELAY_FORMAT = 2
#: Weights are rescaled once the newest is this many halvings above the reference (2 ** 64 stays exact enough).
RESCALE_HALVINGS = 64.0


def whole_hours(transaction_ts: float, known_at: float) -> int:
    """Hours from a payment to its report, rounded up (at least 1: a report dated before its payment,
    clock skew, counts as an hour)."""
    hours = math.ceil((known_at - transaction_ts) / HOUR_S - 1e-9)
    return min(max(hours, 1), MAX_OBSERVED_HOURS)


def hours_as_days(hours: int | None) -> float | None:
    """A delay in hours as (fractional) days, the unit the decisions log, artifacts and panels show."""
    return None if hours is None else round(hours / HOURS_PER_DAY, 4)


@dataclass(slots=True)
class LabelDelay:
    """Confirmed frauds per whole-hour delay between payment and report (index = hours), each weighed by
    how recently it was reported when ``half_life_s`` is set: a reporting process that speeds up or slows
    down moves the estimate within about a half-life instead of being outvoted by all the history."""

    #: weight per whole-hour delay (index = hours); a fraud's weight is 2 ** ((known_at - reference) / half-life)
    counts: list[float] = field(default_factory=lambda: [0.0] * (MAX_OBSERVED_HOURS + 1))
    #: confirmed frauds observed, unweighted (the cold-start threshold counts frauds, not weight)
    observed: int = 0
    #: the report time at which a fraud weighs 1 (moved forward, and every weight rescaled, as reports advance)
    reference: float | None = None
    #: event-time half-life of a fraud's weight (None: every fraud weighs 1 forever); configuration, not state
    half_life_s: float | None = field(default=None, compare=False)
    #: (settings, window end) of the last ``window_end`` call: it changes only when a fraud is observed
    _last: tuple[Learning, int] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, settings: Learning) -> LabelDelay:
        """An empty estimate with the rules file's half-life."""
        return cls(half_life_s=half_life_s(settings))

    @property
    def frauds(self) -> int:
        return self.observed

    def observe(self, transaction_ts: float, known_at: float) -> None:
        """Count one confirmed fraud (the caller makes sure each is observed once)."""
        weight = 1.0
        if self.half_life_s is not None:
            if self.reference is None:
                self.reference = known_at
            halvings = (known_at - self.reference) / self.half_life_s
            if halvings > RESCALE_HALVINGS:  # keep weights in range: the same ratios, a later reference
                scale = 2.0**-halvings
                self.counts = [count * scale for count in self.counts]
                self.reference, halvings = known_at, 0.0
            weight = 2.0**halvings
        self.counts[whole_hours(transaction_ts, known_at)] += weight
        self.observed += 1
        self._last = None

    def quantile(self, share: float) -> int | None:
        """The fewest whole hours within which ``share`` of the observed frauds' weight was known (None: none seen)."""
        if not self.observed:
            return None
        needed = share * sum(self.counts) * (1 - 1e-12)
        seen = 0.0
        for hours, count in enumerate(self.counts):
            seen += count
            if seen >= needed:
                return hours
        return MAX_OBSERVED_HOURS

    def window_end(self, settings: Learning) -> int:
        """Hours before the hour scored at which fraud-share windows end: the learned quantile once
        ``label_delay_min_frauds`` frauds were seen (capped at what the kept days serve), else the prior."""
        last = self._last
        if last is not None and last[0] is settings:
            return last[1]
        learned = self.quantile(settings.label_delay_quantile)
        if learned is None or self.frauds < settings.label_delay_min_frauds:
            end = prior_hours(settings)
        else:
            end = min(learned, MAX_WINDOW_END_HOURS)
        self._last = (settings, end)
        return end

    def summary(self, settings: Learning) -> dict[str, float | int | None]:
        """What an analyst needs to read the risk features: the delay they assumed (days, to the hour) and
        where it came from."""
        return {
            "label_delay_days": hours_as_days(self.window_end(settings)),
            "prior_days": settings.label_delay_days,
            "quantile": settings.label_delay_quantile,
            "learned_days": hours_as_days(self.quantile(settings.label_delay_quantile)),
            "frauds_observed": self.frauds,
            "min_frauds": settings.label_delay_min_frauds,
            "median_days": hours_as_days(self.quantile(0.5)),
        }

    def to_json(self) -> bytes:
        # Sparse: most of the 2 881 bins are empty.
        weights = {str(hours): count for hours, count in enumerate(self.counts) if count}
        value = {"format": DELAY_FORMAT, "hours": weights, "observed": self.observed, "reference": self.reference}
        return json.dumps(value, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes, half_life: float | None = None) -> LabelDelay:
        """The stored estimate, its frauds weighed on with ``half_life`` seconds from now on."""
        value = json.loads(raw)
        delay = cls(half_life_s=half_life)
        if value.get("format") == DELAY_FORMAT:
            stored = {int(hours): float(count) for hours, count in value["hours"].items()}
            delay.observed, delay.reference = int(value["observed"]), value["reference"]
        else:  # format 1: a list of counts per whole day
            stored = {days * HOURS_PER_DAY: float(count) for days, count in enumerate(value["counts"])}
            delay.observed = round(sum(stored.values()))
        for hours, count in stored.items():
            delay.counts[min(max(hours, 0), MAX_OBSERVED_HOURS)] += count
        return delay


def half_life_s(settings: Learning) -> float | None:
    """The rules file's half-life of a fraud's weight in the estimate, in seconds (None: no decay)."""
    days = settings.label_delay_half_life_days
    return days * DAY_S if days > 0 else None


def prior_hours(settings: Learning) -> int:
    """The rules file's delay, in hours: where windows end until enough frauds taught one."""
    return settings.label_delay_days * HOURS_PER_DAY


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
