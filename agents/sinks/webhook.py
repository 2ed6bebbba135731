"""The webhook sink: POST every alert (its versioned JSON contract) to one URL.

Each request carries ``Idempotency-Key: <alert_id>`` (a replay after a crash repeats the key, so
the receiver can drop the duplicate) and, with a secret, ``X-Fraudwatch-Signature: sha256=<hex>``
(HMAC-SHA256 of the body). 2xx is accepted; 408, 429, 5xx, timeouts and connection errors are
retried; any other answer is a permanent refusal (dead-lettered with the status and body).
"""

from __future__ import annotations

import hashlib
import hmac

import aiohttp

from agents.sinks.protocol import PermanentDeliveryError, TemporaryDeliveryError
from config import Settings
from detection.alert import Alert

RETRIED_STATUSES = frozenset({408, 425, 429})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    name = "webhook"
    refused_reason = "webhook_refused"

    def __init__(self, settings: Settings) -> None:
        if not settings.webhook_url:
            raise ValueError("the webhook sink needs FRAUDWATCH_WEBHOOK_URL")
        self.url = settings.webhook_url
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def targets(self, alert: Alert) -> list[str]:
        return [self.url] if alert.severity.rank >= self.settings.webhook_min_severity.rank else []

    def route(self, alert: Alert, targets: list[str], now: float) -> tuple[list[str], list[str]]:
        return targets, []  # no rate limit: the receiver is a program

    async def deliver(self, alert: Alert, targets: list[str]) -> None:
        for url in targets:
            await self._post(url, alert)

    async def deliver_digest(self, alerts: list[Alert], target: str) -> None:
        for alert in alerts:  # never deferred today (route); each alert keeps its own idempotency key
            await self._post(target, alert)

    async def _post(self, url: str, alert: Alert) -> None:
        body = alert.model_dump_json().encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": alert.alert_id}
        if self.settings.webhook_secret:
            headers["X-Fraudwatch-Signature"] = signature(self.settings.webhook_secret, body)
        try:
            async with self._client().post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return
                detail = f"HTTP {response.status}: {(await response.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if response.status >= 500 or response.status in RETRIED_STATUSES:
            raise TemporaryDeliveryError(detail)
        raise PermanentDeliveryError(detail)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.settings.webhook_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "fraudwatch"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
