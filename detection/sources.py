"""The registry of reference sources: data about customers that arrives on its own compacted topic.

Each source is one pydantic model (detection.models) and one entry here that says where it comes
from (the setting naming its topic, the field its records are keyed by) and how a record applies
to the customer's reference data. The live agent (agents/reference.py), the backtest
(detection/backtest.py and `fraudwatch backtest --<name>`), the generator (producers/) and the
JSON schemas (`fraudwatch schemas`) all read this list, so adding a source is a model, an entry
and its topic setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from detection.models import BlacklistEntry, Contract, CreditScore, Customer, FraudReport
from detection.reference import CustomerReference


@dataclass(frozen=True, slots=True)
class ReferenceSource:
    name: str  # file stem (customers.jsonl) and backtest option (--customers)
    model: type[Contract]
    topic_setting: str  # the Settings field that names its topic
    apply: Callable[[CustomerReference, Any], None]  # the record, or None for a tombstone (null value)
    description: str
    key_field: str = "customer_id"  # records are keyed (topic key, backtest join) by this field

    @property
    def option(self) -> str:
        """The command-line option that names a file of this source."""
        return "--" + self.name.replace("_", "-")

    def key_of(self, record: Contract) -> str:
        return str(getattr(record, self.key_field))

    def parse(self, value: bytes | None) -> Contract | None:
        """A record from a topic value; None for a tombstone. Raises pydantic.ValidationError."""
        return self.model.model_validate_json(value) if value else None


def _set_profile(reference: CustomerReference, record: Customer | None) -> None:
    reference.profile = record


def _set_blacklist(reference: CustomerReference, record: BlacklistEntry | None) -> None:
    reference.blacklist = record  # a tombstone delists


def _set_credit_score(reference: CustomerReference, record: CreditScore | None) -> None:
    reference.credit_score = record


def _add_fraud_report(reference: CustomerReference, record: FraudReport | None) -> None:
    if record is not None:  # reports accumulate; a tombstone withdraws nothing
        reference.add_fraud_report(record)


#: Every reference source, in the order the backtest loads them.
REFERENCE_SOURCES: tuple[ReferenceSource, ...] = (
    ReferenceSource("customers", Customer, "topic_customers", _set_profile, "customer profiles"),
    ReferenceSource("blacklist", BlacklistEntry, "topic_blacklist", _set_blacklist, "blacklisted customers"),
    ReferenceSource("credit_scores", CreditScore, "topic_credit_scores", _set_credit_score, "latest credit score"),
    ReferenceSource("fraud_reports", FraudReport, "topic_fraud_reports", _add_fraud_report, "external fraud reports"),
)
SOURCES_BY_NAME: dict[str, ReferenceSource] = {source.name: source for source in REFERENCE_SOURCES}

#: Records of each source, by source name (what the backtest loads and the generator makes).
ReferenceRecords = Mapping[str, Iterable[Contract]]


def apply_reference(references: Callable[[str], CustomerReference], records: ReferenceRecords) -> None:
    """Apply every record, source by source in registry order; ``references`` returns a customer's reference."""
    unknown = set(records) - set(SOURCES_BY_NAME)
    if unknown:
        raise KeyError(f"unknown reference sources {sorted(unknown)}; known: {sorted(SOURCES_BY_NAME)}")
    for source in REFERENCE_SOURCES:
        for record in records.get(source.name, ()):
            source.apply(references(source.key_of(record)), record)
