"""The worker's alert sinks: email always, a webhook when FRAUDWATCH_WEBHOOK_URL is set.

Each runs in its own at-least-once agent (agents/sinks/runner.py) with its own retry topic and
de-duplication table; both dead-letter permanent refusals to the undeliverable-alerts topic.
"""

from __future__ import annotations

import faust
from faust.types import TableT

from agents import topics
from agents.app import app
from agents.retention import TableSweeper
from agents.sinks.email import EmailSink
from agents.sinks.protocol import Sink
from agents.sinks.runner import Backoff, SinkAgent
from agents.sinks.webhook import WebhookSink
from agents.tables import sent_alerts
from config import get_settings
from tables.notifications import delivered_retention, delivered_table

settings = get_settings()


def registered_sink(
    sink: Sink,
    channel: faust.TopicT,
    retry_topic: faust.TopicT,
    delivered: TableT[bytes, bytes],
    backoff: Backoff,
    agent_name: str | None = None,
) -> SinkAgent:
    """``sink`` in its own agent on this app; permanent refusals go to the undeliverable-alerts topic."""
    agent = SinkAgent(
        app,
        sink,
        channel=channel,
        retry_topic=retry_topic,
        dead_letter_topic=topics.notify_dead_letter,
        delivered=delivered,
        expired_markers=TableSweeper(delivered, delivered_retention(settings), settings.table_sweep_batch),
        backoff=backoff,
        digest_interval_s=settings.mail_digest_interval_s,
        agent_name=agent_name,
    )
    agent.register()
    return agent


email = registered_sink(
    EmailSink(settings),
    topics.notify_input,
    topics.notify_retry,
    sent_alerts,
    Backoff(settings.smtp_retry_initial_s, settings.smtp_retry_max_s),
    agent_name="notify",  # the role compose.yaml runs on its own (FRAUDWATCH_RUN_AGENTS=notify)
)

webhook: SinkAgent | None = None
if settings.webhook_url:
    webhook = registered_sink(
        WebhookSink(settings),
        topics.webhook_input,
        topics.webhook_retry,
        delivered_table(app, settings, "webhook-delivered", "Alerts the webhook accepted (2xx)."),
        Backoff(settings.webhook_retry_initial_s, settings.webhook_retry_max_s),
    )
