"""sent-alerts: '<alert_id>|<recipient>' -> time sent (epoch seconds, text).

Written by the notifier right after the SMTP server accepted a message and flushed to the
changelog before the alert's offset is committed, so a restart or replay does not email the
same alert to the same person twice. Expires with RocksDB's TTL (FRAUDWATCH_SENT_ALERTS_TTL_S).
Keyed under the alerts topic's partitions (customer id), like every customer-keyed table.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings


def sent_alerts_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return app.Table(
        "sent-alerts",
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        options={"ttl": settings.sent_alerts_ttl_s, "block_cache_size": settings.table_block_cache_bytes},
        help="Alert emails accepted by the SMTP server, per recipient.",
    )
