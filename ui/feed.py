"""The dashboard's data: one aiokafka consumer per server process, shared by every browser session.

A daemon thread runs its own event loop, reads the alerts and metrics topics (no consumer group,
so every dashboard replica sees everything) and keeps bounded, thread-safe state: the newest
alerts with a sequence number, running totals, and per-second history. Sessions pull what is new.
It also owns the producer that publishes analysts' feedback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config import Settings
from config.broker import bootstrap_servers
from config.rules import load_rules
from detection.alert import Alert
from detection.cases import Case
from detection.metrics import TRANSACTIONS_SCORED, Family, MetricsTotals, family_of
from detection.models import Feedback, MetricsSnapshot
from detection.rule_sets import RULES_RECORD, RuleBook

logger = logging.getLogger(__name__)
#: A second of history is final once this many seconds have passed (late snapshots from other workers).
SETTLE_S = 2


@dataclass
class Second:
    """Everything the workers counted in one wall-clock second."""

    t: int
    transactions: float = 0.0
    alerts: float = 0.0
    dead_letters: float = 0.0
    latency_p99_ms: float = 0.0


@dataclass
class FeedState:
    alerts: deque[tuple[int, Alert]]
    seconds: dict[int, Second] = field(default_factory=dict)
    totals: MetricsTotals = field(default_factory=MetricsTotals)
    workers: dict[str, float] = field(default_factory=dict)  # worker id -> last snapshot (wall time)
    lag: dict[str, int] = field(default_factory=dict)  # worker id -> consumer lag it last reported
    sequence: int = 0
    last_message_at: float | None = None
    cases: dict[str, Case] = field(default_factory=dict)  # case id -> latest state (fraud.cases)
    rules: RuleBook | None = None  # the rules topic, folded as a worker folds it
    ops_sequence: int = 0  # bumps when a case or the rules change


class DashboardFeed:
    def __init__(self, settings: Settings, broker_url: str) -> None:
        self.settings = settings
        self.broker_url = broker_url
        self.lock = threading.Lock()
        self.state = FeedState(
            alerts=deque(maxlen=settings.dashboard_alerts_kept), rules=RuleBook(load_rules(settings.rules_file))
        )
        self.connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: AIOKafkaProducer | None = None

    # --- the feed thread ---------------------------------------------------------------------
    def start(self) -> DashboardFeed:
        threading.Thread(target=self._run, name="dashboard-feed", daemon=True).start()
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._consume_forever())

    async def _consume_forever(self) -> None:
        while True:
            try:
                await self._consume()
            except Exception:
                logger.exception("dashboard feed lost the broker; reconnecting")
                self.connected.clear()
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            s.topic_alerts,
            s.topic_metrics,
            s.topic_cases,
            s.topic_rules,
            bootstrap_servers=bootstrap_servers(self.broker_url),
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(self.broker_url), acks="all")
        await consumer.start()
        await self._producer.start()
        self.connected.set()
        try:
            async for message in consumer:
                if message.value is None:
                    continue
                try:
                    if message.topic == s.topic_alerts:
                        self._add_alert(Alert.model_validate_json(message.value))
                    elif message.topic in (s.topic_cases, s.topic_rules):
                        self._add_ops_record(message.topic, message.value, message.offset)
                    else:
                        self._add_snapshot(MetricsSnapshot.model_validate_json(message.value))
                except (ValueError, LookupError):
                    logger.warning("dashboard skipped an unreadable record on %s", message.topic)
        finally:
            await consumer.stop()
            await self._producer.stop()

    def _add_alert(self, alert: Alert) -> None:
        with self.lock:
            self.state.sequence += 1
            self.state.alerts.append((self.state.sequence, alert))
            self.state.last_message_at = time.time()

    def _add_ops_record(self, topic: str, value: bytes, offset: int) -> None:
        with self.lock:
            if topic == self.settings.topic_cases:
                case = Case.model_validate_json(value)
                self.state.cases[case.case_id] = case
            elif self.state.rules is not None:
                self.state.rules.apply(RULES_RECORD.validate_json(value), offset)
            self.state.ops_sequence += 1

    def _add_snapshot(self, snapshot: MetricsSnapshot) -> None:
        counters = snapshot.counters
        t = int(snapshot.interval_start.timestamp() + snapshot.interval_s)
        with self.lock:
            state = self.state
            state.totals.add(snapshot)
            state.workers[snapshot.worker] = time.time()
            if snapshot.consumer_lag is not None:
                state.lag[snapshot.worker] = snapshot.consumer_lag
            state.last_message_at = time.time()
            second = state.seconds.setdefault(t, Second(t))
            second.transactions += counters.get(TRANSACTIONS_SCORED, 0.0)
            second.alerts += sum(family_of(counters, Family.ALERTS_SEVERITY).values())
            second.dead_letters += sum(family_of(counters, Family.DEAD_LETTER).values())
            if snapshot.latency_ms_p99 is not None:
                second.latency_p99_ms = max(second.latency_p99_ms, snapshot.latency_ms_p99)
            horizon = t - self.settings.dashboard_history_s
            for old in [k for k in state.seconds if k < horizon]:
                del state.seconds[old]

    # --- what sessions call --------------------------------------------------------------------
    def alerts_after(self, sequence: int) -> tuple[int, list[Alert]]:
        """Alerts newer than ``sequence`` (oldest first) and the newest sequence number."""
        with self.lock:
            fresh = [alert for seq, alert in self.state.alerts if seq > sequence]
            return self.state.sequence, fresh

    def settled_seconds(self, after: int) -> list[Second]:
        """Per-second history after ``after`` that will not change any more."""
        cutoff = int(time.time()) - SETTLE_S
        with self.lock:
            return sorted((s for t, s in self.state.seconds.items() if after < t <= cutoff), key=lambda s: s.t)

    def totals(self) -> tuple[MetricsTotals, dict[str, float], float | None]:
        """(a copy of the counter totals, worker id -> last seen, last message time)."""
        with self.lock:
            copy = MetricsTotals()
            copy.counters.update(self.state.totals.counters)
            copy.last = self.state.totals.last
            return copy, dict(self.state.workers), self.state.last_message_at

    def consumer_lag(self, live_workers: set[str]) -> int:
        """Unread records summed over the workers still reporting."""
        with self.lock:
            return sum(lag for worker, lag in self.state.lag.items() if worker in live_workers)

    def operations(self) -> tuple[int, list[Case], RuleBook | None]:
        """(the ops sequence, every case, the rules book); the book is only read by the caller."""
        with self.lock:
            return self.state.ops_sequence, list(self.state.cases.values()), self.state.rules

    def send(self, topic: str, messages: list[tuple[bytes, bytes | None]]) -> concurrent.futures.Future[None]:
        """Send records in order; the Future completes when the broker has them all."""
        if self._loop is None or self._producer is None:
            raise RuntimeError("the dashboard is not connected to the broker yet")
        producer = self._producer

        async def send_all() -> None:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)

        return asyncio.run_coroutine_threadsafe(send_all(), self._loop)

    def publish_feedback(self, alert: Alert, is_fraud: bool) -> concurrent.futures.Future[None]:
        """Send an analyst's verdict to the feedback topic; the Future completes when the broker has it."""
        feedback = Feedback(
            transaction_id=alert.transaction.transaction_id,
            is_fraud=is_fraud,
            known_at=datetime.now(UTC),
            source="analyst",
            customer_id=alert.customer.customer_id,
            merchant_id=alert.transaction.merchant_id,
            terminal_id=alert.transaction.terminal_id,
            alert_id=alert.alert_id,
        )
        if self._loop is None or self._producer is None:
            raise RuntimeError("the dashboard is not connected to the broker yet")
        producer = self._producer

        async def send() -> None:
            await producer.send_and_wait(
                self.settings.topic_feedback, feedback.model_dump_json().encode(), key=feedback.customer_id.encode()
            )

        return asyncio.run_coroutine_threadsafe(send(), self._loop)


_feed: DashboardFeed | None = None
_feed_lock = threading.Lock()


def shared_feed(settings: Settings, broker_url: str) -> DashboardFeed:
    """The process-wide feed, started on first use."""
    global _feed
    with _feed_lock:
        if _feed is None:
            _feed = DashboardFeed(settings, broker_url).start()
        return _feed
