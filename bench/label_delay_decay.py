"""How the learned label delay follows a change in how fast frauds are reported, per half-life.

    .venv/bin/python -m bench.label_delay_decay [--frauds-per-day 30] [--days 240] [--seed 0]

A stream of confirmed frauds whose reporting delay changes twice: chargebacks (about 10 days)
until day 80, then a faster source (about 3 days) until day 160, then chargebacks again. Each
fraud is observed by ``detection.label_delay.LabelDelay`` at its report, as the backtest and the
activity agent observe it; at every hour the window end the risk features would use is read. For
each half-life (0 = none: every fraud counts forever) it prints, over the steady days before the first
change, the 30 days after each change and the 50 after those: the mean window end (days; smaller is fresher) and the
share of the frauds paid in the 1-day window (the 24 hours before the window end) that were known
by then (completeness: a fraud share is only right when it is high).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random

from detection.activity import HOUR_S
from detection.label_delay import LabelDelay
from detection.rules_config import Learning

DAY_S = 86_400.0
#: (first day, median delay in days) of each reporting regime.
REGIMES = ((0, 10.0), (80, 3.0), (160, 10.0))
HALF_LIVES = (0.0, 60.0, 30.0, 14.0, 7.0)
#: Days measured: steady before the first change, the 30 days after each change, and the 50 after those.
PERIODS = ((30, 80), (80, 110), (110, 160), (160, 190), (190, 240))


def delay_of(day: float, rng: random.Random) -> float:
    """A report delay (seconds) for a payment on ``day``: log-normal around the regime's median."""
    median = next(m for first, m in reversed(REGIMES) if day >= first)
    return median * DAY_S * math.exp(rng.gauss(0.0, 0.25))


def stream(days: int, per_day: int, seed: int) -> list[tuple[float, float]]:
    """(payment time, report time) of every fraud, in payment order."""
    rng = random.Random(seed)
    frauds = []
    for day in range(days):
        for _ in range(per_day):
            ts = (day + rng.random()) * DAY_S
            frauds.append((ts, ts + delay_of(day, rng)))
    frauds.sort()
    return frauds


def measure(frauds: list[tuple[float, float]], days: int, half_life_days: float) -> dict[str, list[float]]:
    settings = Learning(label_delay_half_life_days=half_life_days)
    estimate = LabelDelay.of(settings)
    reports = [(known, ts) for ts, known in frauds]
    heapq.heapify(reports)
    payments_by_hour: dict[int, list[float]] = {}
    for ts, known in frauds:
        payments_by_hour.setdefault(int(ts // HOUR_S), []).append(known)
    periods: dict[str, list[float]] = {}
    for hour in range(days * 24):
        now = hour * HOUR_S
        while reports and reports[0][0] <= now:
            known, ts = heapq.heappop(reports)
            estimate.observe(ts, known)
        if estimate.frauds < settings.label_delay_min_frauds:
            continue
        end = estimate.window_end(settings)
        day = now / DAY_S
        period = next((f"{first}-{last}" for first, last in PERIODS if first <= day < last), None)
        if period is None:
            continue
        last_day = [k for h in range(hour - end - 24, hour - end) for k in payments_by_hour.get(h, [])]
        known_share = sum(1 for k in last_day if k <= now) / len(last_day) if last_day else math.nan
        periods.setdefault(period + " end", []).append(end / 24)
        if not math.isnan(known_share):
            periods.setdefault(period + " known", []).append(known_share)
    return periods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frauds-per-day", type=int, default=30)
    parser.add_argument("--days", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frauds = stream(args.days, args.frauds_per_day, args.seed)
    names = [f"{first}-{last}" for first, last in PERIODS]
    print(f"{len(frauds):,} frauds, {args.frauds_per_day}/day; delay medians {REGIMES} (day, days)\n")
    print("| half-life (days) | " + " | ".join(f"{n}: end (d) / known" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for half_life in HALF_LIVES:
        periods = measure(frauds, args.days, half_life)
        cells = []
        for name in names:
            ends, known = periods.get(name + " end", []), periods.get(name + " known", [])
            cells.append(f"{sum(ends) / len(ends):.2f} / {sum(known) / max(len(known), 1):.3f}")
        print(f"| {half_life:g}{' (none)' if not half_life else ''} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
