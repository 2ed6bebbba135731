"""The decisions log's lookup side: transaction_id -> the decision (without its feature vector).

Written by the detect batch that decided (agents.decisions_log), so a key's value sits in the
partition of its customer: the feedback agent, reading the co-partitioned feedback topic,
finds a transaction named by a chargeback months later with a local lookup. Entries are kept for
the chargeback horizon (FRAUDWATCH_CHARGEBACK_HORIZON_DAYS, default 120) of event time: the
decisions log sweeps older ones out (``decisions_retention``; tables.retention says how).
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.customers import customer_keyed_table
from tables.retention import Retention, decision_time


def decisions_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    """Written in the detect agent's batches, so its changelog records go out with the batch."""
    return customer_keyed_table(
        app,
        settings,
        "decisions",
        "transaction_id -> DecisionRecord JSON without the vector, for the chargeback horizon.",
        ttl_s=settings.chargeback_horizon_days * 86_400,
    )


def decisions_retention(settings: Settings) -> Retention:
    """A decision is kept until the partition has seen transactions a chargeback horizon newer."""
    return Retention(settings.chargeback_horizon_days * 86_400, decision_time)
