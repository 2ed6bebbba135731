"""The email sink: multipart alert emails to the analysts (and on-call for critical ones), at most N
individual emails a minute per recipient; the rest, and repeats (same customer, same reasons within
the group window), go out in a digest."""

from __future__ import annotations

from agents.mail.policy import RateLimiter, RepeatGrouper, recipients_for
from agents.mail.render import alert_email, digest_email
from agents.mail.smtp import MailTransport
from config import Settings
from detection.alert import Alert


class EmailSink:
    name = "email"
    refused_reason = "smtp_refused"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.transport = MailTransport(settings)
        self.limiter = RateLimiter(settings.mail_rate_per_minute)
        self.grouper = RepeatGrouper(settings.mail_group_window_s)

    def targets(self, alert: Alert) -> list[str]:
        s = self.settings
        return recipients_for(alert, s.mail_min_severity, s.mail_to, s.mail_oncall)

    def route(self, alert: Alert, targets: list[str], now: float) -> tuple[list[str], list[str]]:
        repeat = self.grouper.is_repeat(alert, now)
        direct = [r for r in targets if not repeat and self.limiter.allow(r, now)]
        return direct, [r for r in targets if r not in direct]

    async def deliver(self, alert: Alert, targets: list[str]) -> None:
        s = self.settings
        await self.transport.send(alert_email(alert, s.mail_from, targets, s.dashboard_url))

    async def deliver_digest(self, alerts: list[Alert], target: str) -> None:
        s = self.settings
        await self.transport.send(digest_email(alerts, s.mail_from, target, s.dashboard_url))

    async def close(self) -> None:
        await self.transport.close()
