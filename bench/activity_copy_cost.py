"""What keeping a worker's copy of one terminal's or merchant's activity current costs per delta, by history.

Every scored payment adds to its terminal's and merchant's counts (a delta on the one-partition activity
topic). Before session 12 every worker followed the `entity-activity` table's changelog, which carries the
entity's whole value again after every delta, and decoded it when a payment at that entity was scored next
(for a busy entity: once per delta). Now every worker folds the delta itself. Per history length this
prints the CPU µs of (medians of repeated timings on one core):

- ``changelog``: decoding the entity's whole value, as every worker did per delta;
- ``fold``: reading the delta from its activity record (its share of a record of ``--entities`` deltas,
  as a detect batch sends them) and adding it to the decoded value, as every worker does now.

    .venv/bin/python -m bench.activity_copy_cost [--repeats 300] [--entities 200]
"""

from __future__ import annotations

import argparse
from functools import partial

from bench.activity_fold_cost import EVERY_S, HISTORIES_DAYS, T0, entity_with, median_us
from detection.activity import HOUR_S, EntityActivity, hour_of
from detection.decisions import EntityActivityBatch, EntityActivityDelta, activity_record_deltas, apply_activity_delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--entities", type=int, default=200, help="deltas in one activity record")
    args = parser.parse_args()
    print(
        "| history | value bytes | changelog: decode the value µs | fold: read + add the delta µs | fold / changelog |"
    )
    print("|---|---:|---:|---:|---:|")
    for days in HISTORIES_DAYS:
        activity = entity_with(days)
        raw = activity.to_json()
        at = T0 + days * 86_400 - HOUR_S  # a payment in the entity's newest hour
        record = (
            EntityActivityBatch(
                deltas=[
                    EntityActivityDelta(entity=f"terminal:T{n}", hours={hour_of(at): 3}) for n in range(args.entities)
                ]
            )
            .model_dump_json()
            .encode()
        )
        delta = EntityActivityDelta(entity="terminal:T0", hours={hour_of(at): 1})

        decode = median_us(partial(EntityActivity.from_json, raw), args.repeats)
        read = median_us(partial(activity_record_deltas, record), max(args.repeats // 10, 10)) / args.entities
        add = median_us(partial(apply_activity_delta, activity, delta), args.repeats)
        print(
            f"| {days} d | {len(raw):,} | {decode:.1f} | {read + add:.1f} ({read:.1f} + {add:.1f}) "
            f"| {(read + add) / decode:.3f}x |"
        )
    print(f"\n(a busy terminal: a payment every {EVERY_S / 60:.0f} minutes; `--entities` deltas per activity record)")


if __name__ == "__main__":
    main()
