"""An Alert built through the real detection path, for notifier tests."""

from __future__ import annotations

from datetime import UTC, datetime

from config.rules import load_rules
from detection.alert import Alert, build_alert
from detection.engine import Decision, Detector
from detection.models import Customer, Transaction
from detection.reference import CustomerReference
from detection.state import CustomerState

DETECTOR = Detector(load_rules(environ={}))


def make_alert(n: int, customer: str | None = None, amount: float = 5000.0, blacklisted: bool = False) -> Alert:
    transaction, decision, reference = alerting_decision(n, customer, amount, blacklisted)
    return build_alert(transaction, decision, reference, DETECTOR.rules_version, datetime.now(UTC))


def alerting_decision(
    n: int, customer: str | None = None, amount: float = 5000.0, blacklisted: bool = False
) -> tuple[Transaction, Decision, CustomerReference]:
    """A transaction the real detector alerts on, its decision and the customer's reference data."""
    customer_id = customer or f"C{n}"
    transaction = Transaction(
        transaction_id=f"N{n}",
        timestamp=datetime.now(UTC),
        customer_id=customer_id,
        amount=amount,
        currency="EUR",
        merchant_id="M7",
        terminal_id="M7-T1",
        country="BR",
        latitude=-23.55,
        longitude=-46.63,
        channel="online",
    )
    reference = CustomerReference(
        profile=Customer(
            customer_id=customer_id,
            name="Ada Lovelace",
            account_number="GB29NWBK60161331926819",
            home_country="DE",
            home_latitude=52.5,
            home_longitude=13.4,
            account_opened=datetime(2020, 1, 1).date(),
            typical_spend=40.0,
        )
    )
    if blacklisted:
        from detection.models import BlacklistEntry

        reference.blacklist = BlacklistEntry(customer_id=customer_id, reason="test", listed_at=datetime.now(UTC))
    decision = DETECTOR.evaluate(transaction, CustomerState(), reference)
    assert decision.alert
    return transaction, decision, reference
