"""Terminal and merchant activity (transactions and confirmed frauds per UTC day): a global table.

Keyed 'terminal:<id>' / 'merchant:<id>'; values are detection.activity.EntityActivity JSON. Every
worker scores transactions of every terminal, so every worker needs all of it. Fed from the
one-partition entity-activity topic by one agent (faust-streaming #283: global tables misbehave
with several partitions). Terminal risk is days old by definition (its windows end at the label
delay), so the second or two this copy lags costs nothing.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings


def entity_activity_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return app.GlobalTable(
        "entity-activity",
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        options={"block_cache_size": settings.table_block_cache_bytes},
        help="Transactions and confirmed frauds per day, per terminal and merchant (EntityActivity JSON).",
    )
