"""Merchant and terminal risk: every worker needs every merchant, so it is a global table.

Keyed 'merchant:<id>' / 'terminal:<id>'; values are detection.reference.MerchantRisk JSON.
Fed from the one-partition merchant-risk topic (faust-streaming #283: global tables misbehave
with several partitions; the class docstring asks for partitions=1).
"""

from __future__ import annotations

from faust.types import AppT, TableT

from config import Settings
from tables.options import store_options


def merchant_risk_table(app: AppT, settings: Settings) -> TableT[bytes, bytes]:
    return app.GlobalTable(
        "merchant-risk",
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        options=store_options(settings),
        help="Confirmed frauds per merchant and terminal (MerchantRisk JSON).",
    )
