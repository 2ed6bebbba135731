"""Prometheus exposition of a worker: our counters, Faust's monitor, offsets and tables, read at scrape time.

Why ``prometheus-client`` with a custom collector rather than Faust's Prometheus sensor: the sensor
updates its metrics on every event (a lock and a label lookup per message on the hot path) and knows
nothing of our counters (alerts by rule, dead letters by reason, SMTP outcomes). A collector costs
nothing between scrapes: it reads the totals the agents already keep and Faust's monitor when
Prometheus asks. Only the latency and batch-size histograms are observed as events happen.

Every Prometheus name is defined here, once, from the counter families of detection.metrics that the
agents count under (``alerts.rule.VELOCITY`` -> ``fraudwatch_alerts_by_rule_total{rule="VELOCITY"}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from faust.exceptions import ConsumerNotStarted
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detection.metrics import AMOUNT_TOTAL_EUR, Family

PREFIX = "fraudwatch"

registry = CollectorRegistry(auto_describe=True)

#: Time one event spends in an agent's handler (validate, detect, ...), from the first await to the last.
event_processing_seconds = Histogram(
    f"{PREFIX}_event_processing_seconds",
    "Time an agent spends on one event.",
    ["stage"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=registry,
)
#: Events an agent handled in one batch: how much of the per-batch work (state writes, sends) a
#: backlog amortises. Ones at high rates mean the fetch loop hands records over one at a time.
batch_events = Histogram(
    f"{PREFIX}_batch_events",
    "Events an agent took in one batch.",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    registry=registry,
)
#: From the raw record reaching the broker to its alert being sent (the alert's detection_latency_ms).
alert_latency_seconds = Histogram(
    f"{PREFIX}_alert_latency_seconds",
    "Raw transaction on the broker to alert published.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)


@dataclass(frozen=True, slots=True)
class CounterFamily:
    """A family of our counters (``<prefix>.<label>``) as one labelled Prometheus counter."""

    prefix: str
    name: str
    label: str
    documentation: str


#: Longest prefix first: ``transactions.country.DE`` belongs to the country family, not ``transactions``.
#: ``alerts.merchant.*`` is left to the dashboard: one series per merchant is too many for Prometheus.
COUNTER_FAMILIES: tuple[CounterFamily, ...] = (
    CounterFamily(Family.TRANSACTIONS_COUNTRY, "transactions_by_country", "country", "Transactions, by country."),
    CounterFamily(Family.TRANSACTIONS_CHANNEL, "transactions_by_channel", "channel", "Transactions, by channel."),
    CounterFamily(Family.TRANSACTIONS_DEVICE, "transactions_by_device", "device", "Transactions: new or known."),
    CounterFamily(Family.TRANSACTIONS, "transactions", "outcome", "Transactions: valid, invalid, scored, replayed."),
    CounterFamily(Family.ALERTS_RULE, "alerts_by_rule", "rule", "Alerts a rule took part in."),
    CounterFamily(Family.ALERTS_SEVERITY, "alerts_by_severity", "severity", "Alerts by severity."),
    CounterFamily(Family.ALERTS_COUNTRY, "alerts_by_country", "country", "Alerts by country."),
    CounterFamily(Family.ALERTS_CHANNEL, "alerts_by_channel", "channel", "Alerts by channel."),
    CounterFamily(Family.ALERTS_DEVICE, "alerts_by_device", "device", "Alerts on a new or known device."),
    CounterFamily(Family.DEAD_LETTER, "dead_letters", "reason", "Records sent to a dead-letter topic, by reason."),
    CounterFamily(Family.NOTIFY, "notify_outcomes", "outcome", "SMTP outcomes: sent, retries, digests, undeliverable."),
    CounterFamily(Family.REFERENCE, "reference_records", "topic", "Reference records applied to tables."),
    CounterFamily(Family.QUALITY, "feedback_outcomes", "outcome", "Confirmed feedback: true/false positives, misses."),
    CounterFamily(AMOUNT_TOTAL_EUR.split(".")[0], "amount_eur", "kind", "Amounts in EUR: total scored and at risk."),
)
SKIPPED_PREFIXES = (f"{Family.ALERTS_MERCHANT}.",)


def family_of(counter_name: str) -> tuple[CounterFamily, str] | None:
    """The family a counter belongs to and its label value; None for one without a family."""
    for family in COUNTER_FAMILIES:
        if counter_name.startswith(family.prefix + "."):
            return family, counter_name[len(family.prefix) + 1 :]
    return None


def counter_metrics(totals: Mapping[str, float]) -> list[Metric]:
    """Our cumulative counters as labelled Prometheus counters; unknown names under ``fraudwatch_counter``."""
    metrics: dict[str, CounterMetricFamily] = {}
    other = CounterMetricFamily(f"{PREFIX}_counter", "Counters without a family of their own.", labels=["name"])
    for name, value in sorted(totals.items()):
        if name.startswith(SKIPPED_PREFIXES):
            continue
        found = family_of(name)
        if found is None:
            other.add_metric([name], value)
            continue
        family, label = found
        if family.name not in metrics:
            metrics[family.name] = CounterMetricFamily(
                f"{PREFIX}_{family.name}", family.documentation, labels=[family.label]
            )
        metrics[family.name].add_metric([label], value)
    return [*metrics.values(), *([other] if other.samples else [])]


def partition_lags(
    read_offsets: Mapping[Any, int], end_offsets: Mapping[Any, int], committed_offsets: Mapping[Any, int]
) -> dict[Any, int]:
    """Records not read yet per partition: end offset minus the next offset to read.

    The next offset is the last read + 1, or the committed offset (itself "next to read") for a
    partition nothing was read from yet. Clamped at zero: the embedded broker reports a partition's
    end as its last batch's base offset + 1, which can be below what was already read.
    """
    lags: dict[Any, int] = {}
    for tp, end in end_offsets.items():
        if tp in read_offsets:
            next_offset = read_offsets[tp] + 1
        elif tp in committed_offsets:
            next_offset = committed_offsets[tp]
        else:
            continue
        lags[tp] = max(0, end - next_offset)
    return lags


def table_key_count(table: Any) -> float | None:
    """Keys in a table's local partitions: RocksDB's estimate (no scan), or the in-memory store's length."""
    store = getattr(table, "data", None)
    databases = getattr(store, "_dbs", None)
    if databases is not None:
        return float(sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in list(databases.values())))
    data = getattr(store, "data", None)
    return float(len(data)) if data is not None else None


class WorkerCollector(Collector):
    """Reads a Faust app's monitor, consumer and tables, and our counter totals, on each scrape."""

    def __init__(self, app: Any, totals: Callable[[], Mapping[str, float]]) -> None:
        self.app = app
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        yield from counter_metrics(self.totals())
        monitor = self.app.monitor
        for attribute, name, documentation, label in MONITOR_COUNTERS:
            counts = getattr(monitor, attribute) or {}
            yield _filled(CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=[label]), _by_name(counts))
        commits = dict(monitor.tp_committed_offsets or {})
        lags = partition_lags(dict(monitor.tp_read_offsets or {}), dict(monitor.tp_end_offsets or {}), commits)
        yield _filled(_per_partition("consumer_lag", "Records not yet read, per partition."), _by_partition(lags))
        yield _filled(_per_partition("committed_offset", "Committed offset, per partition."), _by_partition(commits))
        key_counts = {name: table_key_count(table) for name, table in self.app.tables.items()}
        tables = GaugeMetricFamily(f"{PREFIX}_table_keys", "Keys in this worker's table partitions.", labels=["table"])
        yield _filled(tables, _by_name({name: n for name, n in key_counts.items() if n is not None}))
        yield GaugeMetricFamily(
            f"{PREFIX}_ready", "1 when partitions are assigned and tables recovered.", ready(self.app)
        )


#: Faust monitor counts exposed as labelled counters: (monitor attribute, name, documentation, label).
MONITOR_COUNTERS = (
    ("messages_received_by_topic", "messages_received", "Messages consumed, by topic.", "topic"),
    ("messages_sent_by_topic", "messages_sent", "Messages produced, by topic.", "topic"),
    ("events_by_task", "agent_events", "Events processed, by agent.", "agent"),
)
Samples = Iterable[tuple[list[str], float]]


def _filled(metric: CounterMetricFamily | GaugeMetricFamily, samples: Samples) -> Metric:
    """``metric`` with one sample per (label values, value): the one loop of every family above."""
    for label_values, value in samples:
        metric.add_metric(label_values, value)
    return metric


def _per_partition(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=["topic", "partition"])


def _by_name(counts: Mapping[Any, float]) -> Samples:
    return sorted(([str(key)], value) for key, value in counts.items())


def _by_partition(values: Mapping[Any, float]) -> Samples:
    return [([tp.topic, str(tp.partition)], value) for tp, value in sorted(values.items())]


def ready(app: Any) -> bool:
    """Partitions assigned, tables recovered, not rebalancing, not crashed (the /ready answer)."""
    return not readiness_problems(app)


def assigned_partitions(app: Any) -> set[Any]:
    consumer = getattr(app, "_consumer", None)  # not created yet: not started
    if consumer is None:
        return set()
    try:
        return set(consumer.assignment())
    except ConsumerNotStarted:
        return set()


def readiness_problems(app: Any) -> list[str]:
    """What keeps a worker from serving: empty means ready."""
    problems: list[str] = []
    if app.crashed:
        problems.append(f"crashed: {app.crash_reason!r}")
    if getattr(app, "rebalancing", False):
        problems.append("rebalancing")
    if not assigned_partitions(app):
        problems.append("no partitions assigned")
    if not app.tables.recovery.completed.is_set():
        problems.append("tables recovering")
    return problems
