"""What a sink is. No Faust here: a sink only knows how to reach its targets."""

from __future__ import annotations

from typing import Protocol

from detection.alert import Alert


class PermanentDeliveryError(Exception):
    """The target refused the alert for good (SMTP 5xx, HTTP 4xx): retrying cannot help; it is dead-lettered."""


class TemporaryDeliveryError(Exception):
    """Worth retrying: connection refused or lost, timeout, SMTP 4xx, HTTP 5xx/429."""


class Sink(Protocol):
    #: Short name: in the agent's name, its dead letters' stage (notify.<name>) and its metrics.
    name: str
    #: Dead-letter reason when a target refuses an alert for good, e.g. 'smtp_refused'.
    refused_reason: str

    def targets(self, alert: Alert) -> list[str]:
        """Who gets this alert (recipients, a URL); each (alert, target) is delivered once."""

    def route(self, alert: Alert, targets: list[str], now: float) -> tuple[list[str], list[str]]:
        """(targets to deliver to now, targets whose copy waits for the next digest)."""

    async def deliver(self, alert: Alert, targets: list[str]) -> None:
        """Deliver one alert, or raise PermanentDeliveryError / TemporaryDeliveryError."""

    async def deliver_digest(self, alerts: list[Alert], target: str) -> None:
        """Deliver held alerts together to one target, or raise as deliver() does."""

    async def close(self) -> None:
        """Release connections (the worker is stopping)."""
