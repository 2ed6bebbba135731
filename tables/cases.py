"""open_cases: customer_id -> the customer's open Case (JSON), or nothing. A closed case leaves the
table (its last state stays on the compacted fraud.cases topic)."""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.batched import batched_table
from tables.options import store_options


def open_cases_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return batched_table(
        app,
        "open-cases",
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        options=store_options(settings),
        help="The open case of each customer (Case JSON).",
    )
