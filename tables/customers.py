"""Per-customer tables, keyed by customer_id (UTF-8 bytes); values are JSON bytes.

- customer_behaviour: detection.state.CustomerState; one write per customer per batch.
- customer_reference: detection.reference.CustomerReference (profile, blacklist, credit score,
  fraud reports, confirmed frauds); written by the reference and feedback agents.
- alerted_transactions: transaction_id -> alert_id of alerts published, so feedback can tell a
  caught fraud from a missed one. Written only for alerts (a few percent of transactions).

Expiry: the detect agent treats a state idle for longer than ``state_ttl_s`` as new, so a
restored old value never counts. RocksDB's TTL (the ``ttl_s`` given here) applies only with
TABLE_ROCKSDB_TTL, off by default (tables.options says why); the tables that must forget are
swept instead (tables.retention: decisions, delivered-alert markers).
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.batched import batched_table
from tables.options import store_options


def customer_keyed_table(
    app: AppT, settings: Settings, name: str, help_text: str, ttl_s: int | None = None
) -> TableT[bytes, bytes]:
    """A bytes -> bytes table co-partitioned with the customer-keyed topics; values expire after ``ttl_s``
    without a write (default: the state TTL). Written inside a batch handler, its changelog records go
    out with the batch (tables.batched)."""
    return batched_table(
        app,
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        options=store_options(settings, ttl_s or settings.state_ttl_s),
        help=help_text,
    )


def customer_behaviour_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return customer_keyed_table(
        app, settings, "customer-behaviour", "Recent behaviour per customer (CustomerState JSON)."
    )


def customer_reference_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return customer_keyed_table(
        app, settings, "customer-reference", "Reference data per customer (CustomerReference JSON)."
    )


def alerted_transactions_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return customer_keyed_table(
        app, settings, "alerted-transactions", "transaction_id -> alert_id of published alerts."
    )
