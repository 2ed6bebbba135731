"""shadow_alerts: transaction_id -> rules version of a shadow rule set that would have alerted on it.

Written only for would-be alerts (like alerted_transactions), so feedback can tell the shadow's
true from its false positives. Keyed by transaction id on the customer's partition.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.batched import batched_table
from tables.options import store_options


def shadow_alerts_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return batched_table(
        app,
        "shadow-alerts",
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        options=store_options(settings, settings.state_ttl_s),
        help="transaction_id -> shadow rules version that would have alerted.",
    )
