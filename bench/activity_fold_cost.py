"""What one terminal/merchant delta costs the activity fold and every worker's copy, by the entity's history.

Every scored payment sends its terminal's and its merchant's counts to the one-partition activity topic;
the fold adds them to the entity's value in the `entity-activity` table and writes the value again, and
every worker's copy reads the changelog. An entity's value grows with its history until its bound (16 days
of hourly buckets, 28 of daily ones), so what a delta costs grows too: this prints, per history length,
the CPU µs of each step (medians of repeated timings on a single core):

- ``decode`` and ``encode``: the value as written before session 11 (format 2: objects keyed by bucket) and
  now (format 3: flat lists);
- ``fold, reading the table``: decode + add + encode, what the fold did for every delta;
- ``fold, kept decoded``: add + encode, what it does while it folds the partition's records in order.

    .venv/bin/python -m bench.activity_fold_cost [--repeats 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

from detection.activity import HOUR_S, EntityActivity

T0 = 1_790_000_000.0
#: Payments every 10 minutes, and one fraud in a hundred: a busy terminal.
EVERY_S = 600.0
HISTORIES_DAYS = (1, 7, 16, 44)


def entity_with(days: int) -> EntityActivity:
    activity = EntityActivity()
    for n in range(int(days * 86_400 / EVERY_S)):
        at = T0 + n * EVERY_S
        activity.add_transaction(at)
        if n % 100 == 7:
            activity.add_fraud(at, f"F{n}")
    return activity


def format_2(activity: EntityActivity) -> bytes:
    """The value as written before session 11 (still loads): buckets as objects keyed by their number."""
    value = {"format": 2, "days": activity.days, "hours": activity.hours, "frauds": activity.frauds}
    return json.dumps(value, separators=(",", ":")).encode()


def median_us(step: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    print(
        "| history | buckets | bytes (2 / 3) | decode 2 / 3 µs | encode 2 / 3 µs | fold, reading the table (2) µs "
        "| fold, kept decoded (3) µs | fold, 3 against 2 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for days in HISTORIES_DAYS:
        activity = entity_with(days)
        old, new = format_2(activity), activity.to_json()
        at = T0 + days * 86_400 - HOUR_S  # a payment in the entity's newest hour

        def fold_reading_the_table(raw: bytes = old, at: float = at) -> bytes:
            folded = EntityActivity.from_json(raw)
            folded.add_transaction(at)
            return format_2(folded)

        def fold_kept_decoded(kept: EntityActivity = activity, at: float = at) -> bytes:
            kept.add_transaction(at)
            return kept.to_json()

        decode_2 = median_us(partial(EntityActivity.from_json, old), args.repeats)
        decode_3 = median_us(partial(EntityActivity.from_json, new), args.repeats)
        encode_2 = median_us(partial(format_2, activity), args.repeats)
        encode_3 = median_us(activity.to_json, args.repeats)
        before = median_us(fold_reading_the_table, args.repeats)
        after = median_us(fold_kept_decoded, args.repeats)
        buckets = len(activity.hours) + len(activity.days)
        print(
            f"| {days} d | {buckets} | {len(old):,} / {len(new):,} | {decode_2:.0f} / {decode_3:.0f} "
            f"| {encode_2:.0f} / {encode_3:.0f} | {before:.0f} | {after:.0f} | {after / before:.2f}x |"
        )


if __name__ == "__main__":
    main()
