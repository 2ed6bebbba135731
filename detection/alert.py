"""The alert message: a versioned contract for every consumer of the alerts topic (docs/alerts.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from detection.engine import Decision
from detection.ids import stable_id
from detection.models import Contract, Reason, Severity, Transaction
from detection.reference import CustomerReference

SCHEMA_VERSION: Literal["1.0"] = "1.0"
#: Namespace of alert ids: uuid5(namespace, "<transaction_id>|<rules_version>").
ALERT_ID_NAMESPACE = uuid.UUID("6f1c1f5e-5b1a-4f3e-9a53-0c2a4f7d9b10")


class AlertTransaction(Contract):
    transaction_id: str
    timestamp: AwareDatetime
    amount: float
    currency: str
    amount_eur: float
    merchant_id: str | None = None
    merchant_category: str | None = None
    terminal_id: str | None = None
    channel: str | None = None
    device_id: str | None = None
    country: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class AlertCustomer(Contract):
    customer_id: str
    name: str | None = None
    account_number_masked: str | None = Field(None, description="Only the last four characters are shown.")
    home_country: str | None = None
    home_city: str | None = None
    credit_score: int | None = None
    blacklisted: bool = False
    recent_fraud_reports: int = 0


class Alert(Contract):
    """One fraud alert. Consumers must ignore fields they do not know (minor versions add fields)."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    alert_id: str = Field(description="uuid5 of transaction id and rules version: stable across replays.")
    rules_version: str
    score: int = Field(ge=0, le=100)
    severity: Severity
    reasons: list[Reason]
    anomaly_score: float = Field(ge=0, le=1)
    transaction: AlertTransaction
    customer: AlertCustomer
    detected_at: AwareDatetime
    detection_latency_ms: float | None = Field(
        None, description="From the raw record reaching the broker to this decision; null in backtests."
    )


def alert_id_for(transaction_id: str, rules_version: str) -> str:
    return stable_id(ALERT_ID_NAMESPACE, f"{transaction_id}|{rules_version}")


def mask(number: str | None, visible: int = 4) -> str | None:
    """'DE89370400440532013000' -> '******************3000'."""
    if not number:
        return None
    compact = number.replace(" ", "")
    return "*" * max(0, len(compact) - visible) + compact[-visible:]


def build_alert(
    transaction: Transaction,
    decision: Decision,
    reference: CustomerReference | None,
    rules_version: str,
    detected_at: datetime,
    ingested_at: datetime | None = None,
) -> Alert:
    profile = reference.profile if reference else None
    latency = (detected_at - ingested_at).total_seconds() * 1000 if ingested_at else None
    return Alert(
        alert_id=alert_id_for(transaction.transaction_id, rules_version),
        rules_version=rules_version,
        score=decision.score,
        severity=decision.severity,
        reasons=decision.reasons,
        anomaly_score=round(decision.anomaly, 4),
        transaction=AlertTransaction(
            **transaction.model_dump(exclude={"customer_id", "is_fraud", "fraud_pattern"}),
            amount_eur=round(decision.features.amount_eur, 2),
        ),
        customer=AlertCustomer(
            customer_id=transaction.customer_id,
            name=profile.name if profile else None,
            account_number_masked=mask(profile.account_number) if profile else None,
            home_country=profile.home_country if profile else None,
            home_city=profile.home_city if profile else None,
            credit_score=decision.features.credit_score,
            blacklisted=decision.features.blacklisted,
            recent_fraud_reports=decision.features.recent_reports,
        ),
        detected_at=detected_at,
        detection_latency_ms=round(max(latency, 0.0), 3) if latency is not None else None,
    )
