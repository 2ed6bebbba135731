"""Delivered alerts, one table per sink: '<alert_id>|<target>' -> time delivered (epoch seconds, text).

Written by the sink agent (agents/sinks/runner.py) right after the target accepted the alert and
flushed to the changelog before the alert's offset is committed, so a restart or replay does not
deliver the same alert to the same target twice. A marker is kept FRAUDWATCH_SENT_ALERTS_TTL_S
after its delivery, judged against the newest delivery on its partition: the sink agent sweeps
older ones out (``delivered_retention``; tables.retention says how). Keyed under the alerts
topic's partitions (customer id), like every customer-keyed table.
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.customers import customer_keyed_table
from tables.retention import Retention, delivered_time


def delivered_table(app: AppT, settings: Settings, name: str, help_text: str) -> TableT[bytes, bytes]:
    return customer_keyed_table(app, settings, name, help_text, ttl_s=settings.sent_alerts_ttl_s)


def delivered_retention(settings: Settings) -> Retention:
    return Retention(settings.sent_alerts_ttl_s, delivered_time)
