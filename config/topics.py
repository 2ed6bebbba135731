"""Every topic fraudwatch owns: name, partition count and configs (docs/topics.md describes formats)."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from detection.sources import REFERENCE_SOURCES, ReferenceSource


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool
    description: str
    #: Read beside customer-keyed tables, so its partition count must equal theirs (Faust co-partitions
    #: by count: a customer's records and state must land on the same partition number).
    copartitioned: bool = True
    #: Overrides the common retention (FRAUDWATCH_TOPIC_RETENTION_MS) for this topic.
    retention_ms: int | None = None

    def configs(self, retention_ms: int) -> dict[str, str]:
        """Explicit configs: Tansu applies none by default, and Redpanda's defaults may differ."""
        if self.compacted:
            return {"cleanup.policy": "compact"}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms or retention_ms)}


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """All topics. Customer-keyed topics share one partition count so Faust co-partitions them."""
    n = settings.partitions
    return [
        TopicSpec(settings.topic_raw_transactions, n, False, "raw transactions as produced, keyed by customer_id"),
        TopicSpec(settings.topic_validated_transactions, n, False, "schema-valid transactions, keyed by customer_id"),
        TopicSpec(
            settings.topic_rekeyed_transactions,
            n,
            False,
            "valid transactions that arrived off their customer's partition",
        ),
        TopicSpec(settings.topic_dead_letter, n, False, "records that failed validation, with reasons", False),
        *(
            TopicSpec(topic, n, True, f"{source.description}, keyed by {source.key_field}")
            for topic, source in reference_topics(settings).items()
        ),
        TopicSpec(settings.topic_feedback, n, False, "confirmed outcomes, keyed by customer_id"),
        TopicSpec(settings.topic_alerts, n, False, "fraud alerts (versioned contract), keyed by customer_id"),
        TopicSpec(settings.topic_notify_dead_letter, n, False, "alerts a sink refused for good", False),
        TopicSpec(settings.topic_notify_retry, n, False, "alerts the email sink put back while stopping"),
        TopicSpec(settings.topic_webhook_retry, n, False, "alerts the webhook sink put back while it stopped"),
        # One partition: every worker needs every merchant, so it feeds a global table.
        TopicSpec(settings.topic_merchant_risk, 1, False, "confirmed frauds per merchant/terminal", False),
        TopicSpec(settings.topic_metrics, 1, False, "per-second aggregate metrics from the workers", False),
        # The decisions log: every decision with its features as scored, kept for the chargeback horizon.
        TopicSpec(
            settings.topic_decisions,
            n,
            False,
            "every decision, keyed by customer_id",
            retention_ms=settings.decisions_retention_ms,
        ),
        # One partition: every worker reads all of it (champion and shadow models, and who changed them).
        TopicSpec(settings.topic_models, 1, True, "model artifacts and registry events", False),
        TopicSpec(
            settings.topic_entity_activity, 1, False, "transactions and frauds per terminal/merchant and day", False
        ),
        # One partition each: every worker reads them whole, in one order (agents/broadcast.py).
        TopicSpec(settings.topic_rules, 1, True, "published rule sets and the active/shadow version", False),
        TopicSpec(settings.topic_lists, 1, True, "allow-list and suppression entries", False),
        TopicSpec(
            settings.topic_audit,
            n,
            False,
            "every decision and every change of rules, lists and cases, keyed by subject",
            retention_ms=settings.audit_retention_days * 24 * 3600 * 1000,
        ),
        TopicSpec(settings.topic_cases, n, True, "analysts' cases (latest state), keyed by case_id"),
        TopicSpec(settings.topic_case_commands, n, False, "case changes asked for, keyed by customer_id"),
    ]


def reference_topics(settings: Settings) -> dict[str, ReferenceSource]:
    """Topic name -> the reference source (detection.sources) whose records it carries."""
    return {str(getattr(settings, source.topic_setting)): source for source in REFERENCE_SOURCES}
