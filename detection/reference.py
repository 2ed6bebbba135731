"""Reference data joined to each transaction: the customer's profile, blacklist entry, credit
score, fraud reports and confirmed frauds; and the confirmed frauds per merchant/terminal."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from detection.models import BlacklistEntry, CreditScore, Customer, FraudReport

DAY_S = 86_400.0
HOUR_S = 3_600.0
#: Fraud reports and confirmed frauds kept per customer or merchant (most recent).
MAX_EVENTS = 50


class CustomerReference(BaseModel):
    """Everything known about a customer from reference topics and feedback (one table value)."""

    model_config = ConfigDict(extra="ignore")

    profile: Customer | None = None
    blacklist: BlacklistEntry | None = None
    credit_score: CreditScore | None = None
    fraud_reports: list[FraudReport] = Field(default_factory=list)
    confirmed_frauds: list[tuple[float, str]] = Field(
        default_factory=list, description="(known_at epoch s, transaction_id) of confirmed frauds, oldest first."
    )

    def add_fraud_report(self, report: FraudReport) -> None:
        kept = [r for r in self.fraud_reports if r.report_id != report.report_id]
        kept.append(report)
        kept.sort(key=lambda r: r.reported_at)
        self.fraud_reports = kept[-MAX_EVENTS:]

    def add_confirmed_fraud(self, ts: float, transaction_id: str) -> None:
        _add_event(self.confirmed_frauds, (ts, transaction_id))

    def is_blacklisted(self, now: float) -> bool:
        entry = self.blacklist
        return entry is not None and (entry.expires_at is None or entry.expires_at.timestamp() > now)

    def reports_within(self, now: float, days: int) -> ReportsSeen:
        """The fraud reports and confirmed frauds of the ``days`` before ``now``: how many, and the hours since
        the newest (None: none). A count alone cannot tell a compromise going on from one long over; its age can."""
        if not self.fraud_reports and not self.confirmed_frauds:
            return NO_REPORTS
        since = now - days * DAY_S
        reported = [t for t in (r.reported_at.timestamp() for r in self.fraud_reports) if since <= t <= now]
        confirmed = self.confirmed_frauds
        last = bisect_right(confirmed, (now, _LAST))  # after the newest confirmed fraud known by now
        count = len(reported) + _count_between(confirmed, since, now)
        if last and confirmed[last - 1][0] >= since:
            reported.append(confirmed[last - 1][0])
        return ReportsSeen(count, (now - max(reported)) / HOUR_S if reported else None)


class ReportsSeen(NamedTuple):
    number: int
    hours_since_newest: float | None


NO_REPORTS = ReportsSeen(0, None)


class MerchantRisk(BaseModel):
    """Confirmed frauds at one merchant or terminal (key 'merchant:<id>' / 'terminal:<id>')."""

    confirmed_frauds: list[tuple[float, str]] = Field(
        default_factory=list, description="(known_at epoch s, transaction_id), oldest first."
    )

    def add_confirmed_fraud(self, ts: float, transaction_id: str) -> None:
        _add_event(self.confirmed_frauds, (ts, transaction_id))

    def frauds_within(self, now: float, days: int) -> int:
        return _count_between(self.confirmed_frauds, now - days * DAY_S, now)


def _add_event(events: list[tuple[float, str]], event: tuple[float, str]) -> None:
    """Keep ``events`` sorted, without duplicates (a replayed feedback record), and bounded."""
    index = bisect_left(events, event)
    if index < len(events) and events[index] == event:
        return
    insort(events, event)
    if len(events) > MAX_EVENTS:
        del events[: len(events) - MAX_EVENTS]


def _count_between(events: list[tuple[float, str]], since: float, until: float) -> int:
    # Tuples compare by time first; (t,) sorts before every (t, id) and (t, LAST) after.
    return bisect_right(events, (until, _LAST)) - bisect_left(events, (since,))


_LAST = "\U0010ffff"


def merchant_key(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def terminal_key(terminal_id: str) -> str:
    return f"terminal:{terminal_id}"


def merchant_and_terminal_risk(
    lookup: Callable[[str], MerchantRisk | None], merchant_id: str | None, terminal_id: str | None
) -> tuple[MerchantRisk | None, MerchantRisk | None]:
    """The risk of a transaction's merchant and terminal, each looked up by its key (None when absent)."""
    merchant = lookup(merchant_key(merchant_id)) if merchant_id else None
    terminal = lookup(terminal_key(terminal_id)) if terminal_id else None
    return merchant, terminal
