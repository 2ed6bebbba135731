"""Delivered alerts, one table per sink: '<alert_id>|<target>' -> time delivered (epoch seconds, text).

Written by the sink agent (agents/sinks/runner.py) right after the target accepted the alert and
flushed to the changelog before the alert's offset is committed, so a restart or replay does not
deliver the same alert to the same target twice. Expires with RocksDB's TTL
(FRAUDWATCH_SENT_ALERTS_TTL_S). Keyed under the alerts topic's partitions (customer id), like every
customer-keyed table.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.customers import customer_keyed_table


def delivered_table(app: AppT, settings: Settings, name: str, help_text: str) -> TableT[bytes, bytes]:
    return customer_keyed_table(app, settings, name, help_text, ttl_s=settings.sent_alerts_ttl_s)
