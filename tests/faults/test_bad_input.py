"""Bad input, reproduced first, then fixed: every bad record dead-lettered with a reason, every good one validated."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from agents.dead_letter import ORIGINAL_BYTES_KEPT
from agents.validate import limits as live_limits
from agents.validate import validate
from config import get_settings
from detection.models import DeadLetter, Transaction
from detection.validation import Rejection, validate_transaction
from tests.faults.fuzz import ONE_MIB, FuzzedMessage, bad_messages, good_messages
from tests.unit.faust_harness import capturing, until

NOW = datetime.now(UTC)
REASONS = {
    "empty",
    "oversized",
    "not_json",
    "missing_field",
    "schema",
    "amount_too_large",
    "unknown_currency",
    "future_timestamp",
    "stale_timestamp",
}


def record(**changes: object) -> bytes:
    good = {"transaction_id": "T1", "timestamp": NOW.isoformat(), "customer_id": "C1", "amount": 9.5, "currency": "EUR"}
    return json.dumps({**good, **changes}).encode()


def test_a_timestamp_from_1900_is_rejected_as_stale_not_accepted() -> None:
    result = validate_transaction(record(timestamp="1900-01-01T00:00:00+00:00"), live_limits, NOW)
    assert isinstance(result, Rejection) and result.reason == "stale_timestamp"
    assert result.errors[0].loc == "timestamp" and "1900-01-01" in result.errors[0].msg


def test_lower_case_and_empty_currencies_are_unknown_currencies_not_schema_errors() -> None:
    for currency in ("eur", "", "Usd"):
        result = validate_transaction(record(currency=currency), live_limits, NOW)
        assert isinstance(result, Rejection) and result.reason == "unknown_currency", currency
    result = validate_transaction(record(currency="eur", amount="lots"), live_limits, NOW)
    assert isinstance(result, Rejection) and result.reason == "schema"  # two things wrong: the schema


async def test_a_1_mib_record_is_dead_lettered_truncated_with_size_and_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    big = record(city="x" * ONE_MIB)
    with capturing(monkeypatch) as capture:
        async with validate.test_context() as agent:
            await agent.put(big, key=b"C1")
            await agent.put(record())
            await until(lambda: len(capture.sent[get_settings().topic_validated_transactions]) == 1)  # batched agent
    sent = capture.sent[get_settings().topic_dead_letter]
    assert len(sent) == 1 and len(sent[0].value) < 2 * ORIGINAL_BYTES_KEPT  # fits any producer's request limit
    letter = DeadLetter.model_validate_json(sent[0].value)
    assert letter.reason == "oversized" and letter.original_truncated
    assert letter.original_size == len(big) and letter.original_sha256 == hashlib.sha256(big).hexdigest()
    assert base64.b64decode(letter.original_b64) == big[:ORIGINAL_BYTES_KEPT]
    assert len(capture.sent[get_settings().topic_validated_transactions]) == 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bad_messages(NOW, live_limits.max_message_bytes))
def test_every_fuzzed_bad_message_is_rejected_with_a_known_reason(message: FuzzedMessage) -> None:
    result = validate_transaction(message.value, live_limits, NOW)
    assert isinstance(result, Rejection), (message.kind, message.value[:200] if message.value else None)
    assert result.reason in REASONS and result.errors


@settings(max_examples=200, deadline=None)
@given(good_messages(NOW))
def test_every_fuzzed_good_message_validates(message: FuzzedMessage) -> None:
    assert isinstance(validate_transaction(message.value, live_limits, NOW + timedelta(seconds=1)), Transaction)
