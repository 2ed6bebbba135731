"""Terminal and merchant activity (transactions and confirmed frauds per UTC day), keyed by entity.

Keyed 'terminal:<id>' / 'merchant:<id>'; values are detection.activity.EntityActivity JSON. One
partition, written by one agent (agents.activity) from the one-partition activity topic; its
compacted changelog is what every worker follows into memory to score with (agents.activity),
instead of a GlobalTable: with two workers, the GlobalTable's copies diverged here (faust-streaming
#283). Terminal risk is days old by definition (its windows end at the label delay), so the
second or two a worker's copy lags costs nothing.

The key ``\\x00applied-offset`` holds the activity-topic offset applied last: a delta redelivered
after a rebalance is not added twice.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.batched import batched_table
from tables.options import store_options


def entity_activity_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return batched_table(
        app,
        "entity-activity",
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        options=store_options(settings),
        help="Transactions and confirmed frauds per day, per terminal and merchant (EntityActivity JSON).",
    )
