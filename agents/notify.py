"""Alerts topic -> email, once per alert and recipient, with no alert lost.

- An alert's offset is acknowledged only once every recipient's email was accepted by the SMTP
  server (or refused for good and dead-lettered): the stream runs without automatic acks.
- Temporary failures are retried with exponential backoff and full jitter for as long as it
  takes; only this agent waits, the rest of the worker goes on. If the worker stops or
  rebalances meanwhile, the alert is put back on a retry topic this agent also reads.
- A sent-alerts table remembers '<alert_id>|<recipient>' and is flushed to its changelog before
  the ack, so a restart or replay does not send twice; the Message-ID derives from the alert id.
- Per recipient, at most N individual emails a minute; the rest, and repeats (same customer,
  same reasons within the group window), go into a digest every digest interval. Their alerts
  stay unacknowledged until the digest is accepted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage

import faust
from pydantic import ValidationError

from agents import topics
from agents.app import app
from agents.dead_letter import dead_letter_for, error_of
from agents.mail.policy import RateLimiter, RepeatGrouper, recipients_for
from agents.mail.render import alert_email, digest_email
from agents.mail.smtp import MailTransport, PermanentDeliveryError, TemporaryDeliveryError
from agents.metrics import worker_metrics
from agents.tables import sent_alerts
from config import get_settings
from detection.alert import Alert
from detection.models import FieldError
from detection.validation import field_errors

logger = logging.getLogger(__name__)
settings = get_settings()
STAGE = "notify"

transport = MailTransport(settings)
limiter = RateLimiter(settings.mail_rate_per_minute)
grouper = RepeatGrouper(settings.mail_group_window_s)


@dataclass
class Digest:
    """Alerts held for one recipient's next digest, with the events to acknowledge after it."""

    started: float
    alerts: list[Alert] = field(default_factory=list)
    events: list[faust.EventT[bytes]] = field(default_factory=list)


digests: dict[str, Digest] = {}
digest_lock = asyncio.Lock()
#: Sent-markers of digested alerts, by partition: a table write lands in the partition of the
#: event being processed, so they are written when the next event of that partition comes by.
pending_marks: defaultdict[int, list[bytes]] = defaultdict(list)
#: Events waiting for digests, with how many digests each still waits for.
waiting_digests: dict[int, int] = {}
#: The agent's stream without automatic acks (set when the agent starts).
manual_acks: faust.StreamT[bytes] | None = None


async def acknowledge(event: faust.EventT[bytes]) -> None:
    assert manual_acks is not None
    await manual_acks.ack(event)


def sent_key(alert_id: str, recipient: str) -> bytes:
    return f"{alert_id}|{recipient}".encode()


class DeliveryAbandonedError(Exception):
    """The worker is stopping or rebalancing while the SMTP server is unreachable."""


def _must_let_go() -> bool:
    # Faust waits for every started event to be acknowledged before it stops or hands partitions
    # over (stream_wait_empty): an alert held through an SMTP outage would stall the whole worker.
    return bool(app.should_stop or app.rebalancing)


async def deliver(message: EmailMessage) -> str | None:
    """Send until accepted (None) or refused for good (the reason). Retries temporary failures for as
    long as it takes, unless the worker stops or rebalances meanwhile (DeliveryAbandonedError)."""
    delay = settings.smtp_retry_initial_s
    while True:
        try:
            await transport.send(message)
            return None
        except PermanentDeliveryError as exc:
            return str(exc)
        except TemporaryDeliveryError as exc:
            worker_metrics.incr("notify.retries")
            logger.warning("SMTP temporarily failed (%s); retrying in up to %.1fs", exc, delay)
            wake_at = asyncio.get_running_loop().time() + random.uniform(0, delay)
            while (remaining := wake_at - asyncio.get_running_loop().time()) > 0:
                if _must_let_go():
                    raise DeliveryAbandonedError from exc
                await asyncio.sleep(min(remaining, 0.25))
            if _must_let_go():
                raise DeliveryAbandonedError from exc
            delay = min(delay * 2, settings.smtp_retry_max_s)


async def undeliverable(event: faust.EventT[bytes], reason: str, errors: list[FieldError]) -> None:
    worker_metrics.incr(f"notify.undeliverable.{reason}")
    letter = dead_letter_for(event, reason, errors, STAGE)
    await topics.notify_dead_letter.send(key=event.message.key, value=letter.model_dump_json().encode())


async def put_back(event: faust.EventT[bytes]) -> None:
    """Requeue an alert on the retry topic (same key, so same partition) and acknowledge it: nothing is
    lost, and Faust, which waits for every started event before it stops or rebalances, can go on."""
    await topics.notify_retry.send(key=event.message.key, value=event.value)
    await app.producer.flush()
    await acknowledge(event)
    worker_metrics.incr("notify.requeued")


@app.agent(topics.notify_input)
async def notify(stream: faust.StreamT[bytes]) -> None:
    global manual_acks
    manual_acks = stream.noack()  # type: ignore[attr-defined]  # StreamT lacks it; Stream has it
    async for event in manual_acks.events():
        try:
            done = await notify_one(event)
        except DeliveryAbandonedError:
            logger.info("SMTP unreachable while stopping or rebalancing: alert at %s put back", event.message.tp)
            await put_back(event)
            continue
        except Exception as exc:  # never stop the agent; the alert goes aside with the reason
            logger.exception("notification failed unexpectedly at %s", event.message.tp)
            await undeliverable(event, "internal_error", error_of(exc))
            done = True
        if done:
            await app.producer.flush()  # sent-markers and dead letters are durable before the ack
            await acknowledge(event)
        await flush_digests(force=False)


async def notify_one(event: faust.EventT[bytes]) -> bool:
    """Email one alert; True when its event can be acknowledged now."""
    for key in pending_marks.pop(event.message.partition, []):
        sent_alerts[key] = str(time.time()).encode()
    try:
        alert = Alert.model_validate_json(event.value)
    except ValidationError as exc:
        await undeliverable(event, "schema", field_errors(exc))
        return True
    recipients = [
        r
        for r in recipients_for(alert, settings.mail_min_severity, settings.mail_to, settings.mail_oncall)
        if sent_alerts.get(sent_key(alert.alert_id, r)) is None
    ]
    if not recipients:
        return True
    now = time.time()
    repeat = grouper.is_repeat(alert, now)
    direct = [r for r in recipients if not repeat and limiter.allow(r, now)]
    deferred = [r for r in recipients if r not in direct]
    if direct:
        refused = await deliver(alert_email(alert, settings.mail_from, direct, settings.dashboard_url))
        if refused is not None:
            await undeliverable(event, "smtp_refused", [FieldError(loc="smtp", msg=refused, type="permanent")])
        else:
            worker_metrics.incr("notify.sent")
            for recipient in direct:
                sent_alerts[sent_key(alert.alert_id, recipient)] = str(now).encode()
    for recipient in deferred:
        digest = digests.setdefault(recipient, Digest(started=now))
        digest.alerts.append(alert)
        digest.events.append(event)
        waiting_digests[id(event)] = waiting_digests.get(id(event), 0) + 1
        worker_metrics.incr("notify.deferred_to_digest")
    return not deferred


async def flush_digests(force: bool) -> None:
    """Send every digest whose interval has passed; acknowledge alerts no digest still holds."""
    if not digests:
        return
    async with digest_lock:
        now = time.time()
        due = [r for r, d in digests.items() if force or now - d.started >= settings.mail_digest_interval_s]
        for recipient in due:
            digest = digests.pop(recipient)
            try:
                refused = await deliver(
                    digest_email(digest.alerts, settings.mail_from, recipient, settings.dashboard_url)
                )
            except DeliveryAbandonedError:
                held = {id(e): e for d in [digest, *digests.values()] for e in d.events}
                digests.clear()
                waiting_digests.clear()
                for event in held.values():
                    await put_back(event)
                return
            for alert, event in zip(digest.alerts, digest.events, strict=True):
                if refused is not None:
                    await undeliverable(event, "smtp_refused", [FieldError(loc="smtp", msg=refused, type="permanent")])
                else:
                    pending_marks[event.message.partition].append(sent_key(alert.alert_id, recipient))
                await app.producer.flush()
                remaining = waiting_digests.pop(id(event)) - 1
                if remaining:
                    waiting_digests[id(event)] = remaining
                else:
                    await acknowledge(event)
            worker_metrics.incr("notify.digests_sent" if refused is None else "notify.digests_refused")


@app.timer(interval=max(0.5, settings.mail_digest_interval_s / 4))
async def send_due_digests() -> None:
    await flush_digests(force=False)
