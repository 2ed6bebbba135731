from __future__ import annotations

import pytest

from config.settings import EMBEDDED_FETCH_MAX_WAIT_MS, EMBEDDED_GENERATOR_LINGER_MS, Settings
from config.topics import topic_specs


def test_defaults_run_locally_on_the_embedded_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDWATCH_BROKER", raising=False)
    settings = Settings()
    assert settings.is_embedded
    embedded = settings.embedded_profile()
    assert embedded.processing_guarantee == "at_least_once"
    assert embedded.consumer_fetch_max_wait_ms < 100
    assert embedded.probe_end_offsets and embedded.recovery_consistency_check
    assert embedded.producer_max_batch_bytes > 1  # one record per batch stalls the embedded broker


def test_the_embedded_fetch_wait_is_short_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDWATCH_BROKER", raising=False)
    assert Settings().embedded_profile().consumer_fetch_max_wait_ms == EMBEDDED_FETCH_MAX_WAIT_MS
    monkeypatch.setenv("FRAUDWATCH_CONSUMER_FETCH_MAX_WAIT_MS", "7")
    assert Settings().embedded_profile().consumer_fetch_max_wait_ms == 7


def test_the_embedded_generator_batches_unless_its_linger_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every fetch on the embedded broker lists all of a partition's batches: the generator gathers
    # records into fewer, larger batches there, and keeps Kafka's short linger elsewhere.
    monkeypatch.delenv("FRAUDWATCH_BROKER", raising=False)
    assert Settings().generator_linger_ms < 50
    assert Settings().embedded_profile().generator_linger_ms == EMBEDDED_GENERATOR_LINGER_MS
    monkeypatch.setenv("FRAUDWATCH_GENERATOR_LINGER_MS", "125")
    assert Settings().embedded_profile().generator_linger_ms == 125


def test_environment_overrides_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDWATCH_BROKER", "kafka://redpanda:9092")
    monkeypatch.setenv("FRAUDWATCH_PARTITIONS", "12")
    monkeypatch.setenv("FRAUDWATCH_CURRENCIES", "EUR, USD")
    monkeypatch.setenv("FRAUDWATCH_MAIL_TO", "a@x.org,b@x.org")
    settings = Settings()
    assert not settings.is_embedded
    assert settings.partitions == 12
    assert settings.currencies == ("EUR", "USD")
    assert settings.mail_to == ("a@x.org", "b@x.org")


def test_bad_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDWATCH_PARTITIONS", "many")
    with pytest.raises(ValueError, match="partitions"):
        Settings()


def test_customer_keyed_topics_share_the_partition_count_and_reference_topics_are_compacted() -> None:
    settings = Settings(partitions=6)
    specs = {s.name: s for s in topic_specs(settings)}
    for name in (
        settings.topic_raw_transactions,
        settings.topic_validated_transactions,
        settings.topic_blacklist,
        settings.topic_credit_scores,
        settings.topic_fraud_reports,
        settings.topic_feedback,
    ):
        assert specs[name].partitions == 6
    for name in (settings.topic_customers, settings.topic_blacklist, settings.topic_credit_scores):
        assert specs[name].configs(1000) == {"cleanup.policy": "compact"}
    assert specs[settings.topic_alerts].configs(1000) == {"cleanup.policy": "delete", "retention.ms": "1000"}
