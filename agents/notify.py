"""The worker's alert sinks: email always, a webhook when FRAUDWATCH_WEBHOOK_URL is set.

Each runs in its own at-least-once agent (agents/sinks/runner.py) with its own retry topic and
de-duplication table; both dead-letter permanent refusals to the undeliverable-alerts topic.
"""

from __future__ import annotations

from agents import topics
from agents.app import app
from agents.sinks.email import EmailSink
from agents.sinks.runner import Backoff, SinkAgent
from agents.sinks.webhook import WebhookSink
from agents.tables import sent_alerts
from config import get_settings
from tables.notifications import delivered_table

settings = get_settings()

email = SinkAgent(
    app,
    EmailSink(settings),
    channel=topics.notify_input,
    retry_topic=topics.notify_retry,
    dead_letter_topic=topics.notify_dead_letter,
    delivered=sent_alerts,
    backoff=Backoff(settings.smtp_retry_initial_s, settings.smtp_retry_max_s),
    digest_interval_s=settings.mail_digest_interval_s,
    agent_name="notify",  # the role compose.yaml runs on its own (FRAUDWATCH_RUN_AGENTS=notify)
)
email.register()

webhook: SinkAgent | None = None
if settings.webhook_url:
    webhook = SinkAgent(
        app,
        WebhookSink(settings),
        channel=topics.webhook_input,
        retry_topic=topics.webhook_retry,
        dead_letter_topic=topics.notify_dead_letter,
        delivered=delivered_table(app, settings, "webhook-delivered", "Alerts the webhook accepted (2xx)."),
        backoff=Backoff(settings.webhook_retry_initial_s, settings.webhook_retry_max_s),
        digest_interval_s=settings.mail_digest_interval_s,
    )
    webhook.register()
