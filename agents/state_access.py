"""Typed reads and writes of the tables' JSON values (the agents' one way into state)."""

from __future__ import annotations

import logging

from agents.metrics import worker_metrics
from agents.tables import customer_behaviour, customer_reference, merchant_risk
from detection import reference
from detection.metrics import Family, counter
from detection.reference import CustomerReference, MerchantRisk
from detection.state import CustomerState, decode_state
from tables.batched import stored_value

logger = logging.getLogger(__name__)


def load_state(customer_key: bytes, now: float, ttl_s: float) -> CustomerState:
    """The customer's state, or a fresh one when none is kept or it has been idle past its TTL."""
    raw = stored_value(customer_behaviour, customer_key)
    if raw is None:
        return CustomerState()
    state, change = decode_state(raw)
    if change is not None:  # an older layout migrated, or an unreadable one reset: never a dead letter
        worker_metrics.incr(counter(Family.STATE, change))
        logger.warning("customer %s: stored state %s", customer_key.decode(errors="replace"), change)
    return fresh_if_idle(state, now, ttl_s)


def fresh_if_idle(state: CustomerState, now: float, ttl_s: float) -> CustomerState:
    """``state``, or a fresh one when the customer has been idle past the TTL at event time ``now``."""
    if state.last_seen is not None and now - state.last_seen > ttl_s:
        return CustomerState()
    return state


def save_state(customer_key: bytes, state: CustomerState) -> None:
    customer_behaviour[customer_key] = state.to_json()


def load_reference(customer_key: bytes) -> CustomerReference | None:
    raw = stored_value(customer_reference, customer_key)
    return CustomerReference.model_validate_json(raw) if raw is not None else None


def save_reference(customer_key: bytes, reference: CustomerReference) -> None:
    customer_reference[customer_key] = reference.model_dump_json(exclude_defaults=True).encode()


def load_merchant_risk(entity: str) -> MerchantRisk | None:
    raw = stored_value(merchant_risk, entity.encode())
    return MerchantRisk.model_validate_json(raw) if raw is not None else None


def merchant_and_terminal_risk(
    merchant_id: str | None, terminal_id: str | None
) -> tuple[MerchantRisk | None, MerchantRisk | None]:
    return reference.merchant_and_terminal_risk(load_merchant_risk, merchant_id, terminal_id)
