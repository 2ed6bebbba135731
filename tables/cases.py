"""open_cases: customer_id -> the customer's open Case (JSON), or nothing. A closed case leaves the
table (its last state stays on the compacted fraud.cases topic)."""

from __future__ import annotations

from agents.app import app
from config import get_settings

settings = get_settings()

open_cases = app.Table(
    "open-cases",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.partitions,
    options={"block_cache_size": settings.table_block_cache_bytes},
    help="The open case of each customer (Case JSON).",
)
