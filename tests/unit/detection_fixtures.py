"""Small builders for detection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detection.models import Transaction

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BERLIN = (52.52, 13.405)


def tx(n: int, seconds: float = 0.0, amount: float = 40.0, customer: str = "C1", **fields: object) -> Transaction:
    values: dict[str, object] = {
        "transaction_id": f"T{n}",
        "timestamp": T0 + timedelta(seconds=seconds),
        "customer_id": customer,
        "amount": amount,
        "currency": "EUR",
        "country": "DE",
        "latitude": BERLIN[0],
        "longitude": BERLIN[1],
        "merchant_id": "M1",
        "terminal_id": "M1-T0",
        "device_id": "D1",
        "channel": "pos",
    }
    values.update(fields)
    return Transaction.model_validate(values)
