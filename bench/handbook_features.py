"""The Fraud Detection Handbook's 15 baseline features and its train / delay / test protocol.

Features (chapter 3, "Baseline feature transformation"): the amount; weekend; night (hour <= 6);
per customer, the count and mean amount of its payments over the last 1, 7 and 30 days (the
payment itself included); per terminal, the count of payments and the share of frauds over 1, 7
and 30 days that end ``delay`` days before the payment, because labels are only known a delay
later (a fraud counts there if it was reported within ``delay``: with the Handbook's one delay for
all, every fraud; a fraud never reported never counts). Computed for every payment at once with
sorted keys and prefix sums (no per-row Python).

Protocol (chapter 3, "Baseline fraud detection system"): train on ``train_days`` days, leave
``delay_days`` out, test on ``test_days`` days; a test day drops the cards already known to be
compromised (a fraud in the training period or in the delay period up to the test day minus the
delay). Where delays are spread or frauds go unreported (producers/handbook.py), what is "known"
is what was reported by then: the training labels are the frauds reported by the test start, and a
test day drops the cards with a fraud reported before it. With the Handbook's structure these are
exactly its rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from producers.handbook import SECONDS_PER_DAY, HandbookData, HandbookScenario

FEATURE_NAMES = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    "CUSTOMER_ID_NB_TX_1DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_7DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_30DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
    "TERMINAL_ID_NB_TX_1DAY_WINDOW",
    "TERMINAL_ID_RISK_1DAY_WINDOW",
    "TERMINAL_ID_NB_TX_7DAY_WINDOW",
    "TERMINAL_ID_RISK_7DAY_WINDOW",
    "TERMINAL_ID_NB_TX_30DAY_WINDOW",
    "TERMINAL_ID_RISK_30DAY_WINDOW",
)
WINDOWS_DAYS = (1, 7, 30)
#: With spread label delays, the baselines' delay is the one within which this share of reports arrive
#: (fraudwatch's learned delay is the same quantile, measured from the reports: detection/label_delay.py).
DELAY_QUANTILE = 0.9
#: The longest window plus the longest label delay the features support.
MAX_REACH_S = 400 * SECONDS_PER_DAY
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def baseline_features(data: HandbookData, delay_days: int) -> Floats:
    """One row of the 15 features per payment (in the data's order)."""
    seconds = data.seconds
    columns: list[Floats] = [data.amount]
    weekday = (np.floor(data.timestamps / SECONDS_PER_DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    columns.append((weekday >= 5).astype(np.float64))
    columns.append(((seconds % SECONDS_PER_DAY) // 3600 <= 6).astype(np.float64))
    customer = _Windows(data.customer, seconds)
    for days in WINDOWS_DAYS:
        count, amount = customer.sums(days * SECONDS_PER_DAY, 0, data.amount)
        columns += [count, np.divide(amount, count, out=np.zeros_like(amount), where=count > 0)]
    terminal = _Windows(data.terminal, seconds)
    delay = delay_days * SECONDS_PER_DAY
    # A fraud in the window (ending ``delay`` before the payment) reported within ``delay`` is known by then.
    known_in_time = (data.known_s - data.seconds <= delay).astype(np.float64)
    for days in WINDOWS_DAYS:
        count, frauds = terminal.sums(delay + days * SECONDS_PER_DAY, delay, known_in_time)
        columns += [count, np.divide(frauds, count, out=np.zeros_like(frauds), where=count > 0)]
    return np.column_stack(columns)


class _Windows:
    """Counts and sums of a value over time windows per key, for every row at once."""

    def __init__(self, keys: Ints, seconds: Ints) -> None:
        span = int(seconds.max()) + 1 if len(seconds) else 1
        # Keys are spaced so that no window (at most MAX_REACH back) reaches into the previous key.
        self._offset = span + MAX_REACH_S
        self._stride = 2 * self._offset
        self._composite = keys * self._stride + seconds + self._offset
        self._order = np.argsort(self._composite, kind="stable")
        self._sorted = self._composite[self._order]

    def sums(self, reach_s: int, end_s: int, values: Floats) -> tuple[Floats, Floats]:
        """Per row: rows of the same key with time in (t - reach_s, t - end_s], their count and value sum."""
        if reach_s > MAX_REACH_S:
            raise ValueError(f"windows reach at most {MAX_REACH_S} s back")
        prefix = np.r_[0.0, np.cumsum(values[self._order])]
        low = np.searchsorted(self._sorted, self._composite - reach_s, side="right")
        high = np.searchsorted(self._sorted, self._composite - end_s, side="right")
        return (high - low).astype(np.float64), prefix[high] - prefix[low]


@dataclass(frozen=True)
class Protocol:
    """Train / delay / test windows in days since the data's start."""

    train_start_day: int = 115  # 2018-07-25 in the Handbook's data
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    @classmethod
    def for_label_delay(cls, label_delay_days: float, train_start_day: int = 115) -> Protocol:
        """The Handbook's windows with the delay a data set's labels really have."""
        return cls(train_start_day=train_start_day, delay_days=math.ceil(label_delay_days))

    @classmethod
    def for_scenario(cls, scenario: HandbookScenario) -> Protocol:
        """The Handbook's windows with the delay within which ``DELAY_QUANTILE`` of the data's reports arrive
        (its one delay where all frauds share one)."""
        return cls.for_label_delay(scenario.label_delay_quantile_days(DELAY_QUANTILE))

    @property
    def history_start_day(self) -> int:
        """Where a streaming system's replay starts: the longest feature window (plus the delay)
        before the training window, the history the baselines' features look back on."""
        return max(0, self.train_start_day - max(WINDOWS_DAYS) - self.delay_days)

    @property
    def test_start_day(self) -> int:
        return self.train_start_day + self.train_days + self.delay_days

    @property
    def test_end_day(self) -> int:
        return self.test_start_day + self.test_days


@dataclass(frozen=True)
class Split:
    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]


def train_test_split(data: HandbookData, protocol: Protocol) -> Split:
    """Row masks of the training set and of the test set (known compromised cards removed)."""
    day = data.day
    train = (day >= protocol.train_start_day) & (day < protocol.train_start_day + protocol.train_days)
    test = np.zeros(len(data), dtype=bool)
    since_training = day >= protocol.train_start_day
    for offset in range(protocol.test_days):
        # A card is known compromised once a fraud of it since the training start was reported (with
        # one delay D for all frauds: the frauds up to the day D before this test day, the Handbook's rule).
        test_day = protocol.test_start_day + offset
        known = since_training & (data.known_s < test_day * SECONDS_PER_DAY)
        test |= (day == test_day) & ~np.isin(data.customer, data.customer[known])
    return Split(train, test)


def known_labels(data: HandbookData, rows: npt.NDArray[np.bool_], cutoff_day: int) -> npt.NDArray[np.bool_]:
    """The labels of ``rows`` as known at the start of ``cutoff_day``: frauds reported by then."""
    return data.known_s[rows] <= cutoff_day * SECONDS_PER_DAY
