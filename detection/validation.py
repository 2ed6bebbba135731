"""Validation of raw transaction messages: bytes in, a Transaction or a Rejection out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pydantic

from detection.models import FieldError, Transaction, ValidationLimits

__all__ = ["Rejection", "ValidationLimits", "check_limits", "field_errors", "is_not_json", "validate_transaction"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was rejected; ``reason`` is a short code counted on the dashboard."""

    reason: str
    errors: list[FieldError] = field(default_factory=list)


def validate_transaction(raw: bytes | None, limits: ValidationLimits, now: datetime) -> Transaction | Rejection:
    """Parse and check one raw message. ``now`` is the wall clock, for the future-time check."""
    if raw is None:
        return Rejection("empty", [FieldError(loc="", msg="message has no value", type="empty")])
    if len(raw) > limits.max_message_bytes:
        return Rejection(
            "oversized",
            [FieldError(loc="", msg=f"{len(raw)} bytes > limit {limits.max_message_bytes}", type="oversized")],
        )
    try:
        transaction = Transaction.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        return _rejection_from_pydantic(raw, exc)
    return check_limits(transaction, limits, now) or transaction


def check_limits(transaction: Transaction, limits: ValidationLimits, now: datetime) -> Rejection | None:
    """Business checks on a schema-valid transaction; None when it passes."""
    if transaction.amount > limits.max_amount:
        return Rejection(
            "amount_too_large",
            [FieldError(loc="amount", msg=f"{transaction.amount} > limit {limits.max_amount}", type="limit")],
        )
    if transaction.currency not in limits.currencies:
        return Rejection(
            "unknown_currency",
            [FieldError(loc="currency", msg=f"{transaction.currency!r} is not an accepted currency", type="enum")],
        )
    ahead = transaction.timestamp - now
    if ahead > limits.max_future_skew:
        return Rejection(
            "future_timestamp",
            [
                FieldError(
                    loc="timestamp",
                    msg=f"{transaction.timestamp.isoformat()} is more than {limits.max_future_skew} ahead of now",
                    type="future",
                )
            ],
        )
    if -ahead > limits.max_past_age:
        return Rejection(
            "stale_timestamp",
            [
                FieldError(
                    loc="timestamp",
                    msg=f"{transaction.timestamp.isoformat()} is more than {limits.max_past_age} before now",
                    type="stale",
                )
            ],
        )
    return None


def field_errors(exc: pydantic.ValidationError) -> list[FieldError]:
    """A pydantic error as the dead-letter envelope's error list."""
    return [
        FieldError(loc=".".join(str(p) for p in err["loc"]), msg=err["msg"], type=err["type"])
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _rejection_from_pydantic(raw: bytes, exc: pydantic.ValidationError) -> Rejection:
    errors = field_errors(exc)
    if is_not_json(raw, errors):
        return Rejection("not_json", errors)
    if any(e.type == "missing" for e in errors):
        return Rejection("missing_field", errors)
    if all(e.loc == "currency" and e.type == "string_pattern_mismatch" for e in errors):
        # "eur" or "" is a currency we do not accept, like "XYZ": the same reason for the same fix.
        return Rejection("unknown_currency", errors)
    return Rejection("schema", errors)


def is_not_json(raw: bytes, errors: list[FieldError]) -> bool:
    """Whether a record that failed its contract is not a JSON object at all (reason ``not_json``)."""
    return any(e.type in {"json_invalid", "json_type"} for e in errors) or not _is_json_object(raw)


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, UnicodeDecodeError):
        return False
