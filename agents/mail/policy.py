"""Who gets an alert, and whether now or in the next digest. Pure: time comes in as an argument."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from detection.alert import Alert
from detection.models import Severity


def recipients_for(
    alert: Alert, min_severity: Severity, everyone: tuple[str, ...], oncall: tuple[str, ...]
) -> list[str]:
    """Analysts get alerts at or above the minimum severity; the on-call list also gets critical ones."""
    if alert.severity.rank < min_severity.rank:
        return []
    recipients = list(everyone)
    if alert.severity is Severity.CRITICAL:
        recipients += [address for address in oncall if address not in recipients]
    return recipients


@dataclass
class RateLimiter:
    """At most ``per_minute`` individual emails per recipient in any sliding minute."""

    per_minute: int
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, recipient: str, now: float) -> bool:
        times = self._sent.setdefault(recipient, deque())
        while times and now - times[0] >= 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True


@dataclass
class RepeatGrouper:
    """An alert for the same customer with the same reasons as one sent within ``window_s`` is a repeat."""

    window_s: float
    _last: dict[tuple[str, frozenset[str]], float] = field(default_factory=dict)

    def is_repeat(self, alert: Alert, now: float) -> bool:
        key = (alert.customer.customer_id, frozenset(r.code for r in alert.reasons))
        previous = self._last.get(key)
        if previous is not None and now - previous < self.window_s:
            return True
        self._last[key] = now
        if len(self._last) > 100_000:  # bounded: forget the oldest half
            for stale in sorted(self._last, key=self._last.__getitem__)[:50_000]:
                del self._last[stale]
        return False
