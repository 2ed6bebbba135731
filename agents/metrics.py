"""Per-worker counters, published as one small snapshot per interval to the metrics topic.

Agents count into ``worker_metrics``; the dashboard sums the snapshots of all workers.
Counts are at-least-once like everything else: a replay after a crash may count twice.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from agents import topics
from agents.app import app
from agents.prometheus import alert_latency_seconds, partition_lags
from config import get_settings
from detection.models import MetricsSnapshot

settings = get_settings()

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class WorkerMetrics:
    """Counters and latency samples since the last snapshot."""

    def __init__(self) -> None:
        self.counters: defaultdict[str, float] = defaultdict(float)
        #: Since the worker started, for Prometheus (which wants counters that only grow).
        self.totals: defaultdict[str, float] = defaultdict(float)
        self.latencies_ms: list[float] = []
        self.interval_start = datetime.now(UTC)
        #: Role ('champion', 'shadow') -> model version this worker scores with (agents.models sets it).
        self.models: dict[str, str] = {}

    def incr(self, name: str, amount: float = 1) -> None:
        self.counters[name] += amount
        self.totals[name] += amount

    def observe_latency(self, milliseconds: float) -> None:
        self.latencies_ms.append(milliseconds)
        alert_latency_seconds.observe(milliseconds / 1000)

    def drain(self, now: datetime, consumer_lag: int | None = None) -> MetricsSnapshot:
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
            consumer_lag=consumer_lag,
            models=dict(self.models),
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


def consumer_lag(
    read_offsets: Mapping[Any, int], end_offsets: Mapping[Any, int], committed_offsets: Mapping[Any, int]
) -> int | None:
    """Records on this worker's partitions not read yet (agents.prometheus.partition_lags, summed)."""
    lags = partition_lags(read_offsets, end_offsets, committed_offsets)
    return sum(lags.values()) if lags else None


@app.timer(interval=settings.metrics_interval_s)
async def publish_metrics() -> None:
    monitor = app.monitor
    lag = consumer_lag(monitor.tp_read_offsets or {}, monitor.tp_end_offsets or {}, monitor.tp_committed_offsets or {})
    snapshot = worker_metrics.drain(datetime.now(UTC), lag)
    if snapshot.counters or lag:
        await topics.metrics.send(key=WORKER_ID.encode(), value=snapshot.model_dump_json().encode())
