"""The registry of reference sources: one list read by the live agent, the backtest, the generator and schemas."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from config import get_settings
from config.settings import Settings
from config.topics import reference_topics, topic_specs
from detection.models import BlacklistEntry, Customer, FraudReport
from detection.reference import CustomerReference
from detection.sources import REFERENCE_SOURCES, SOURCES_BY_NAME, apply_reference
from producers.world import ReferenceData, World
from runtime.schemas import SCHEMAS

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_every_source_names_a_topic_setting_and_gets_a_compacted_copartitioned_topic() -> None:
    settings = get_settings()
    specs = {spec.name: spec for spec in topic_specs(settings)}
    for source in REFERENCE_SOURCES:
        assert Settings.model_fields[source.topic_setting].annotation is str
        spec = specs[getattr(settings, source.topic_setting)]
        assert spec.compacted and spec.copartitioned and spec.partitions == settings.partitions
    assert list(reference_topics(settings).values()) == list(REFERENCE_SOURCES)


def test_generator_and_schemas_cover_every_source() -> None:
    assert [f.name for f in fields(ReferenceData)] == [source.name for source in REFERENCE_SOURCES]
    world = World(seed=1, customers=200, merchants=20, now=NOW)
    records = world.reference.by_source()
    for source in REFERENCE_SOURCES:
        assert records[source.name], source.name
        assert all(isinstance(record, source.model) for record in records[source.name])
    assert {source.model for source in REFERENCE_SOURCES} <= set(SCHEMAS.values())


def test_sources_apply_to_the_customer_reference_and_tombstones_delist() -> None:
    references: dict[str, CustomerReference] = {}

    def reference_of(customer_id: str) -> CustomerReference:
        return references.setdefault(customer_id, CustomerReference())

    customer = Customer(customer_id="C1", name="A", home_country="DE", account_opened=NOW.date(), typical_spend=20.0)
    entry = BlacklistEntry(customer_id="C1", reason="mule", listed_at=NOW)
    reports = [FraudReport(report_id=f"R{n}", customer_id="C1", reported_at=NOW, category="x") for n in range(2)]
    apply_reference(reference_of, {"customers": [customer], "blacklist": [entry], "fraud_reports": reports})
    assert references["C1"].profile == customer and references["C1"].blacklist == entry
    assert len(references["C1"].fraud_reports) == 2

    SOURCES_BY_NAME["blacklist"].apply(references["C1"], SOURCES_BY_NAME["blacklist"].parse(None))
    assert references["C1"].blacklist is None
    SOURCES_BY_NAME["fraud_reports"].apply(references["C1"], None)  # a tombstone withdraws no report
    assert len(references["C1"].fraud_reports) == 2


def test_an_unknown_source_is_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="credit_scores"):
        apply_reference(lambda _id: CustomerReference(), {"credit_score": []})
