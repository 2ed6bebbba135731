"""Faust topic objects for fraudwatch's topics. Keys and values are raw bytes: the detection
core's pydantic contracts parse and serialize them, so a bad record is ours to dead-letter
instead of a decode error inside Faust."""

from __future__ import annotations

import faust

from agents.app import app
from config import get_settings
from config.topics import TopicSpec, reference_topics, topic_specs

settings = get_settings()
#: Header on validated (and rekeyed) transactions: the raw message's broker timestamp (ms), from
#: which detection latency is measured.
INGESTED_AT_HEADER = "fraudwatch-ingested-at-ms"
_specs = {spec.name: spec for spec in topic_specs(settings)}


def _topic(name: str) -> faust.TopicT:
    spec: TopicSpec = _specs[name]
    return app.topic(
        spec.name,
        partitions=spec.partitions,
        config=spec.configs(settings.topic_retention_ms),
        key_type=bytes,
        value_type=bytes,
    )


raw_transactions = _topic(settings.topic_raw_transactions)
validated_transactions = _topic(settings.topic_validated_transactions)
rekeyed_transactions = _topic(settings.topic_rekeyed_transactions)
dead_letter = _topic(settings.topic_dead_letter)
alerts = _topic(settings.topic_alerts)
feedback = _topic(settings.topic_feedback)
merchant_risk = _topic(settings.topic_merchant_risk)
metrics = _topic(settings.topic_metrics)
decisions = _topic(settings.topic_decisions)
entity_activity = _topic(settings.topic_entity_activity)
reference_data = app.topic(*reference_topics(settings), key_type=bytes, value_type=bytes)
audit = _topic(settings.topic_audit)
cases = _topic(settings.topic_cases)
case_commands = _topic(settings.topic_case_commands)
notify_dead_letter = _topic(settings.topic_notify_dead_letter)
notify_retry = _topic(settings.topic_notify_retry)
webhook_retry = _topic(settings.topic_webhook_retry)
#: What each sink reads: new alerts, and alerts it put back while stopping or rebalancing.
notify_input = app.topic(settings.topic_alerts, settings.topic_notify_retry, key_type=bytes, value_type=bytes)
webhook_input = app.topic(settings.topic_alerts, settings.topic_webhook_retry, key_type=bytes, value_type=bytes)
