"""What one terminal/merchant value costs to hold and to keep up to date, by the entity's history.

Every scored payment sends its terminal's and its merchant's counts to the one-partition activity topic;
the fold adds them to the entity's value in the `entity-activity` table and writes the value again, and
every worker's copy reads the changelog and keeps the values it scores with decoded. An entity's value
grows with its history until its bound (16 days of hourly buckets, 28 of daily ones), so what it costs
grows too: this prints, per history length, the CPU µs of each step (medians of repeated timings on a
single core):

- ``decode`` and ``encode``: the value as written before session 11 (format 2: objects keyed by bucket) and
  now (format 3: flat lists);
- ``fold, reading the table``: decode + add + encode, what the fold did for every delta;
- ``fold, kept decoded``: add + encode, what it does while it folds the partition's records in order;

then what a decoded value holds in memory (tracemalloc: just decoded, and once it has scored a payment)
and what scoring with it costs: ``risk_features`` on a value whose answer for the hour is not cached; a
payment in the newest hour, then a read (the windows end 7 days before: the payment is after them); a
payment an hour late, then a read (after them too); a fraud reported two days after its payment, then a
read. Last, the resident memory that ``--values`` decoded copies of the bound's value add to the process.

    .venv/bin/python -m bench.activity_fold_cost [--repeats 300] [--values 2000]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from itertools import count
from pathlib import Path

from detection.activity import DAY_S, HOUR_S, EntityActivity

T0 = 1_790_000_000.0
#: Payments every 10 minutes, and one fraud in a hundred: a busy terminal.
EVERY_S = 600.0
HISTORIES_DAYS = (1, 7, 16, 44)
#: The windows' end before the hour scored (the label delay), hours.
DELAY_HOURS = 7 * 24
#: Numbers for timed steps that need a new one each time: another hour to read, another fraud's id.
TICKETS = count()


def payments_in(days: int) -> int:
    return int(days * 86_400 / EVERY_S)


def entity_with(days: int) -> EntityActivity:
    activity = EntityActivity()
    for n in range(payments_in(days)):
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


def held_bytes(raw: bytes, now: float) -> tuple[int, int]:
    """Bytes a value decoded from ``raw`` holds (tracemalloc), just decoded and once it has scored a payment."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        activity = EntityActivity.from_json(raw)
        decoded = tracemalloc.get_traced_memory()[0] - before
        activity.risk_features(now, DELAY_HOURS)
        return decoded, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--values", type=int, default=2000, help="decoded copies of the bound's value for RSS")
    args = parser.parse_args()
    print(
        "| history | buckets | bytes (2 / 3) | decode 2 / 3 µs | encode 2 / 3 µs | fold, reading the table (2) µs "
        "| fold, kept decoded (3) µs | fold, 3 against 2 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    scoring = []
    for days in HISTORIES_DAYS:
        activity = entity_with(days)
        old, new = format_2(activity), activity.to_json()
        at = T0 + (payments_in(days) - 1) * EVERY_S  # a payment in the entity's newest hour

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
        scoring.append((days, buckets, new, at))

    print()
    print(
        "| history | buckets | held, decoded KB | held, scored KB | risk_features, not cached µs "
        "| a payment, then a read µs | a payment an hour late, then a read µs | a fraud, then a read µs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for days, buckets, raw, at in scoring:
        decoded, scored = held_bytes(raw, at)
        activity = EntityActivity.from_json(raw)

        def read_at_a_new_hour(kept: EntityActivity = activity, at: float = at) -> object:
            return kept.risk_features(at + (next(TICKETS) % 2) * HOUR_S, DELAY_HOURS)  # the cache holds one hour

        def payment_then_read(kept: EntityActivity = activity, at: float = at) -> object:
            kept.add_transaction(at)
            return kept.risk_features(at, DELAY_HOURS)

        def late_payment_then_read(kept: EntityActivity = activity, at: float = at) -> object:
            kept.add_transaction(at - HOUR_S)
            return kept.risk_features(at, DELAY_HOURS)

        def fraud_then_read(kept: EntityActivity = activity, at: float = at) -> object:
            kept.add_fraud(at - 2 * DAY_S, f"late-{next(TICKETS)}")
            return kept.risk_features(at, DELAY_HOURS)

        read = median_us(read_at_a_new_hour, args.repeats)
        payment = median_us(payment_then_read, args.repeats)
        late = median_us(late_payment_then_read, args.repeats)
        fraud = median_us(fraud_then_read, args.repeats)
        print(
            f"| {days} d | {buckets} | {decoded / 1000:.1f} | {scored / 1000:.1f} | {read:.1f} | {payment:.1f} "
            f"| {late:.1f} | {fraud:.1f} |"
        )

    raw, at = scoring[-1][2], scoring[-1][3]
    gc.collect()
    start = rss_bytes()
    kept = [EntityActivity.from_json(raw) for _ in range(args.values)]
    for activity in kept:
        activity.risk_features(at, DELAY_HOURS)
    gc.collect()
    grown = rss_bytes() - start
    print(
        f"\n{args.values:,} values at the bound, decoded and scored: +{grown / 1e6:.1f} MB RSS, "
        f"{grown / args.values / 1000:.1f} KB each"
    )


if __name__ == "__main__":
    main()
