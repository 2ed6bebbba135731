"""Per-worker counters, published as one small snapshot per interval to the metrics topic.

Agents count into ``worker_metrics``; the dashboard sums the snapshots of all workers.
Counts are at-least-once like everything else: a replay after a crash may count twice.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from datetime import UTC, datetime

from agents import topics
from agents.app import app
from config import get_settings
from detection.models import MetricsSnapshot

settings = get_settings()

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class WorkerMetrics:
    """Counters and latency samples since the last snapshot."""

    def __init__(self) -> None:
        self.counters: defaultdict[str, float] = defaultdict(float)
        self.latencies_ms: list[float] = []
        self.interval_start = datetime.now(UTC)

    def incr(self, name: str, amount: float = 1) -> None:
        self.counters[name] += amount

    def observe_latency(self, milliseconds: float) -> None:
        self.latencies_ms.append(milliseconds)

    def drain(self, now: datetime) -> MetricsSnapshot:
        """The snapshot since the last drain; counting starts again from zero."""
        latencies = sorted(self.latencies_ms)
        snapshot = MetricsSnapshot(
            worker=WORKER_ID,
            interval_start=self.interval_start,
            interval_s=(now - self.interval_start).total_seconds(),
            counters=dict(self.counters),
            latency_ms_p50=_percentile(latencies, 0.50),
            latency_ms_p99=_percentile(latencies, 0.99),
            latency_ms_max=latencies[-1] if latencies else None,
        )
        self.counters = defaultdict(float)
        self.latencies_ms = []
        self.interval_start = now
        return snapshot


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


worker_metrics = WorkerMetrics()


@app.timer(interval=settings.metrics_interval_s)
async def publish_metrics() -> None:
    snapshot = worker_metrics.drain(datetime.now(UTC))
    if snapshot.counters:
        await topics.metrics.send(key=WORKER_ID.encode(), value=snapshot.model_dump_json().encode())
