"""Every topic fraudwatch owns: name, partition count and configs (docs/topics.md describes formats)."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool
    description: str

    def configs(self, retention_ms: int) -> dict[str, str]:
        """Explicit configs: Tansu applies none by default, and Redpanda's defaults may differ."""
        if self.compacted:
            return {"cleanup.policy": "compact"}
        return {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}


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
        TopicSpec(settings.topic_dead_letter, n, False, "records that failed validation, with reasons"),
        TopicSpec(settings.topic_customers, n, True, "customer profiles, keyed by customer_id"),
        TopicSpec(settings.topic_blacklist, n, True, "blacklisted customers, keyed by customer_id"),
        TopicSpec(settings.topic_credit_scores, n, True, "latest credit score, keyed by customer_id"),
        TopicSpec(settings.topic_fraud_reports, n, True, "external fraud reports, keyed by report_id's customer_id"),
        TopicSpec(settings.topic_feedback, n, False, "confirmed outcomes, keyed by customer_id"),
        TopicSpec(settings.topic_alerts, n, False, "fraud alerts (versioned contract), keyed by customer_id"),
        TopicSpec(settings.topic_notify_dead_letter, n, False, "alerts the SMTP server refused for good"),
        TopicSpec(settings.topic_notify_retry, n, False, "alerts the notifier put back while it stopped or rebalanced"),
        # One partition: every worker needs every merchant, so it feeds a global table.
        TopicSpec(settings.topic_merchant_risk, 1, False, "confirmed frauds per merchant/terminal"),
        TopicSpec(settings.topic_metrics, 1, False, "per-second aggregate metrics from the workers"),
    ]
