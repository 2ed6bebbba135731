from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from agents.validate import INGESTED_AT_HEADER, customer_partition, validate
from config import get_settings
from detection.models import DeadLetter, Transaction
from detection.state import CustomerState
from tests.unit.faust_harness import capturing, until

settings = get_settings()


def transaction(n: int) -> bytes:
    return json.dumps(
        {
            "transaction_id": f"T{n}",
            "timestamp": datetime.now(UTC).isoformat(),
            "customer_id": f"C{n % 3}",
            "amount": 10 + n,
            "currency": "EUR",
        }
    ).encode()


async def test_valid_records_go_to_validated_keyed_by_customer_and_bad_ones_to_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with capturing(monkeypatch) as capture:
        async with validate.test_context() as agent:
            await agent.put(transaction(1), key=b"whatever")
            await agent.put(b"\x00\xffgarbage", key=b"k2")
            await agent.put(transaction(2))
            await agent.put(json.dumps({"transaction_id": "T9"}).encode())
            await until(lambda: len(capture.sent[settings.topic_dead_letter]) == 2)

    validated = capture.sent[settings.topic_validated_transactions]
    assert [Transaction.model_validate_json(r.value).transaction_id for r in validated] == ["T1", "T2"]
    assert [r.key for r in validated] == [b"C1", b"C2"]
    assert all(int(r.headers[INGESTED_AT_HEADER]) > 0 for r in validated)

    letters = [DeadLetter.model_validate_json(r.value) for r in capture.sent[settings.topic_dead_letter]]
    assert [letter.reason for letter in letters] == ["not_json", "missing_field"]
    assert base64.b64decode(letters[0].original_b64) == b"\x00\xffgarbage"
    assert letters[0].original_key_b64 == base64.b64encode(b"k2").decode()
    assert letters[0].source_topic == settings.topic_raw_transactions and letters[0].stage == "validate"
    assert {e.loc for e in letters[1].errors} == {"timestamp", "customer_id", "amount", "currency"}


async def test_an_unexpected_error_dead_letters_the_record_and_the_agent_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agents.validate as module

    real = module.validate_transaction  # type: ignore[attr-defined]

    def flaky(raw: bytes | None, *args: object) -> object:
        if raw == b"boom":
            raise RuntimeError("disk on fire")
        return real(raw, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "validate_transaction", flaky)
    with capturing(monkeypatch) as capture:
        async with validate.test_context() as agent:
            await agent.put(b"boom")
            await agent.put(transaction(5))
            await until(lambda: len(capture.sent[settings.topic_validated_transactions]) == 1)

    letters = [DeadLetter.model_validate_json(r.value) for r in capture.sent[settings.topic_dead_letter]]
    assert [(letter.reason, letter.errors[0].msg) for letter in letters] == [
        ("internal_error", "RuntimeError: disk on fire")
    ]
    assert len(capture.sent[settings.topic_validated_transactions]) == 1


async def test_a_record_on_its_customers_partition_is_detected_in_the_same_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One pass through Faust: validated and scored here; only off-partition records go to the rekeyed topic."""
    burst = [transaction(3 * n + 1) for n in range(50)]  # all customer C1
    with capturing(monkeypatch) as capture:
        async with validate.test_context() as agent:
            for value in burst:
                await agent.put(value, key=b"C1", partition=customer_partition(b"C1"), wait=False)
            await agent.put(transaction(2), key=b"not-the-customer", wait=False)
            await until(lambda: len(capture.sent[settings.topic_validated_transactions]) == len(burst) + 1)

    rekeyed = capture.sent[settings.topic_rekeyed_transactions]
    assert [(r.key, Transaction.model_validate_json(r.value).transaction_id) for r in rekeyed] == [(b"C2", "T2")]
    assert all(int(r.headers[INGESTED_AT_HEADER]) > 0 for r in rekeyed)
    state_changelog = next(name for name in capture.sent if name.endswith("customer-behaviour-changelog"))
    writes = capture.sent[state_changelog]
    assert {w.key for w in writes} == {b"C1"}
    assert len(writes) < len(burst)  # one write per customer per batch, not per transaction
    learned = CustomerState.from_json(writes[-1].value)
    assert [seen[1] for seen in learned.recent] == [Transaction.model_validate_json(v).transaction_id for v in burst]
