"""Data contracts of every topic (pydantic v2). docs/topics.md documents keys and values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NonEmpty = Annotated[str, Field(min_length=1, max_length=128)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class Contract(BaseModel):
    """Base of all contracts: unknown fields are ignored so producers can add fields safely."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """Business limits a transaction meets beyond its schema (config.limits builds them from settings)."""

    max_message_bytes: int
    max_amount: float
    max_future_skew: timedelta
    currencies: frozenset[str]
    #: Older event times are rejected as 'stale_timestamp' (1900-01-01 is a broken clock, not a purchase).
    max_past_age: timedelta = timedelta(days=400)


class Transaction(Contract):
    """One card or account transaction. The first five fields are required; real feeds often lack the rest.

    ``is_fraud`` and ``fraud_pattern`` are labels carried by synthetic or labelled files; only
    evaluation (the backtest) reads them, never the detector.
    """

    transaction_id: NonEmpty
    timestamp: AwareDatetime = Field(description="Event time, ISO 8601 with a zone.")
    customer_id: NonEmpty
    amount: float = Field(gt=0, allow_inf_nan=False)
    currency: CurrencyCode
    merchant_id: str | None = None
    merchant_category: str | None = None
    terminal_id: str | None = None
    channel: str | None = Field(None, description="pos, online, atm, mobile, ...")
    device_id: str | None = None
    country: CountryCode | None = None
    city: str | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    is_fraud: bool | None = Field(None, description="Label for evaluation only.")
    fraud_pattern: str | None = Field(None, description="Label for evaluation only: which pattern was injected.")


class Customer(Contract):
    """A customer's profile (topic reference.customers, compacted, keyed by customer_id)."""

    customer_id: NonEmpty
    name: str
    email: str | None = None
    account_number: str | None = Field(None, description="Masked wherever it leaves the worker.")
    home_country: CountryCode
    home_city: str | None = None
    home_latitude: Latitude | None = None
    home_longitude: Longitude | None = None
    account_opened: date
    typical_spend: float = Field(gt=0, description="Typical transaction amount in EUR.")


class BlacklistEntry(Contract):
    """A customer on the blacklist; a null value (tombstone) for the key removes it."""

    customer_id: NonEmpty
    reason: str
    listed_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class CreditScore(Contract):
    customer_id: NonEmpty
    score: int = Field(ge=300, le=850)
    as_of: AwareDatetime
    bureau: str | None = None


class FraudReport(Contract):
    """An external fraud report about a customer (consortium data, police, another bank)."""

    report_id: NonEmpty
    customer_id: NonEmpty
    reported_at: AwareDatetime
    category: str
    source: str | None = None


class Feedback(Contract):
    """A confirmed outcome for a transaction, from an analyst or a chargeback.

    Keyed by customer_id so it lands on the partition that holds the customer's state.
    """

    transaction_id: NonEmpty
    is_fraud: bool
    known_at: AwareDatetime
    source: Literal["analyst", "chargeback", "customer", "backtest"] = "analyst"
    customer_id: NonEmpty
    merchant_id: str | None = None
    terminal_id: str | None = None
    alert_id: str | None = None


class MerchantRiskUpdate(Contract):
    """A confirmed fraud seen at a merchant or terminal (topic reference.merchant-risk, keyed by entity)."""

    entity: NonEmpty = Field(description="'merchant:<id>' or 'terminal:<id>'")
    is_fraud: bool
    known_at: AwareDatetime
    transaction_id: NonEmpty


class FieldError(Contract):
    """One thing wrong with a rejected record."""

    loc: str
    msg: str
    type: str


class DeadLetter(Contract):
    """Envelope of a record that could not be processed (topic transactions.dead-letter)."""

    reason: str = Field(description="Short machine-readable reason: not_json, schema, amount_too_large, ...")
    errors: list[FieldError]
    original_b64: str = Field(description="The original message value, base64 (its first bytes when truncated).")
    original_key_b64: str | None = None
    original_size: int | None = Field(None, description="Length of the original value in bytes.")
    original_sha256: str | None = Field(None, description="SHA-256 (hex) of the whole original value.")
    original_truncated: bool = Field(False, description="True when only the first bytes of the value are kept.")
    source_topic: str
    source_partition: int
    source_offset: int
    stage: str = Field(description="Which agent rejected it.")
    failed_at: datetime


class Severity(StrEnum):
    """How urgent an alert is, from its score (bands in the rules file); declared from least to most."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}


class Reason(Contract):
    """Why a rule fired, in words and numbers."""

    code: str
    description: str
    weight: float
    values: dict[str, float | str]


class MetricsSnapshot(Contract):
    """What one worker counted during one interval (topic fraudwatch.metrics, keyed by worker id).

    Counters are deltas for the interval, named ``<family>.<label>``, e.g.
    ``transactions.valid``, ``dead_letter.not_json``, ``alerts.severity.high``,
    ``alerts.rule.VELOCITY``, ``transactions.country.DE``, ``amount.total``.
    """

    worker: str
    interval_start: datetime
    interval_s: float
    counters: dict[str, float]
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None
    latency_ms_max: float | None = None
    consumer_lag: int | None = None
    models: dict[str, str] = Field(
        default_factory=dict, description="Model version per role ('champion', 'shadow') the worker scores with."
    )
