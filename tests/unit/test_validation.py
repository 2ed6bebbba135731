from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.limits import validation_limits
from config.settings import Settings
from detection.models import Transaction
from detection.validation import Rejection, ValidationLimits, validate_transaction

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LIMITS = ValidationLimits(
    max_message_bytes=2048, max_amount=10_000.0, max_future_skew=timedelta(minutes=5), currencies=frozenset({"EUR"})
)
GOOD = {
    "transaction_id": "T1",
    "timestamp": "2026-11-01T11:59:00+00:00",
    "customer_id": "C1",
    "amount": 12.5,
    "currency": "EUR",
    "country": "DE",
}


def raw(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not None}).encode()


def test_valid_record_is_accepted_with_optional_fields_missing() -> None:
    result = validate_transaction(raw(), LIMITS, NOW)
    assert isinstance(result, Transaction)
    assert result.amount == 12.5 and result.merchant_id is None and result.timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "reason", "loc"),
    [
        (b"{not json", "not_json", ""),
        (b"[1, 2]", "not_json", ""),
        (raw(customer_id=None), "missing_field", "customer_id"),
        (raw(amount=-3), "schema", "amount"),
        (raw(amount=0), "schema", "amount"),
        (raw(amount="a lot"), "schema", "amount"),
        (raw(timestamp="2026-11-01T11:59:00"), "schema", "timestamp"),
        (raw(country="Germany"), "schema", "country"),
        (raw(amount=10_000.01), "amount_too_large", "amount"),
        (raw(currency="USD"), "unknown_currency", "currency"),
        (raw(timestamp="2026-11-01T12:05:01+00:00"), "future_timestamp", "timestamp"),
        (raw(city="x" * 3000), "oversized", ""),
        (None, "empty", ""),
    ],
)
def test_each_kind_of_bad_record_gets_its_reason(value: bytes | None, reason: str, loc: str) -> None:
    result = validate_transaction(value, LIMITS, NOW)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.errors and result.errors[0].loc == loc and result.errors[0].msg


def test_limits_are_inclusive_at_the_boundary() -> None:
    assert isinstance(validate_transaction(raw(amount=10_000.0), LIMITS, NOW), Transaction)
    assert isinstance(validate_transaction(raw(timestamp="2026-11-01T12:05:00+00:00"), LIMITS, NOW), Transaction)


@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(value: bytes) -> None:
    assert isinstance(validate_transaction(value, LIMITS, NOW), Transaction | Rejection)


@given(
    st.fixed_dictionaries(
        {"transaction_id": st.text(min_size=1, max_size=20), "amount": st.floats(min_value=0.01, max_value=10_000)},
        optional={"customer_id": st.text(max_size=5), "currency": st.sampled_from(["EUR", "eur", "EURO", ""])},
    )
)
def test_arbitrary_json_objects_are_accepted_only_when_complete(record: dict[str, object]) -> None:
    result = validate_transaction(json.dumps({**record, "timestamp": GOOD["timestamp"]}).encode(), LIMITS, NOW)
    complete = bool(record.get("customer_id")) and record.get("currency") == "EUR"
    assert isinstance(result, Transaction) == complete


def test_the_backtest_checks_the_live_limits_less_the_wall_clock_age() -> None:
    settings = Settings(max_amount=5000.0, max_past_age_s=86_400)
    live, replay = validation_limits(settings), validation_limits(settings, replay=True)
    assert live.max_amount == 5000.0 and live.max_past_age == timedelta(days=1)
    assert replay.max_past_age == timedelta.max
    assert dataclasses.replace(replay, max_past_age=live.max_past_age) == live
