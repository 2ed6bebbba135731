"""The worker's Prometheus exposition, from the real app object (memory tables, not started)."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import agents.health
import agents.views  # noqa: F401  (declares the tables)
from agents.app import app
from agents.metrics import WorkerMetrics, worker_metrics
from agents.prometheus import counter_metrics, partition_lags, readiness_problems, registry


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counters_become_labelled_prometheus_counters_by_family() -> None:
    metrics = WorkerMetrics()
    for name in ("alerts.rule.VELOCITY", "alerts.rule.VELOCITY", "transactions.country.DE", "transactions.valid"):
        metrics.incr(name)
    metrics.incr("notify.undeliverable.permanent")
    metrics.incr("alerts.merchant.M1")
    metrics.incr("something.new")
    metrics.drain(metrics.interval_start)  # a published snapshot resets the interval, never the totals
    exposed = {(m.name, tuple(s.labels.items()), s.value) for m in counter_metrics(metrics.totals) for s in m.samples}
    assert ("fraudwatch_alerts_by_rule", (("rule", "VELOCITY"),), 2.0) in exposed
    assert ("fraudwatch_transactions_by_country", (("country", "DE"),), 1.0) in exposed
    assert ("fraudwatch_transactions", (("outcome", "valid"),), 1.0) in exposed
    assert ("fraudwatch_notify_outcomes", (("outcome", "undeliverable.permanent"),), 1.0) in exposed
    assert ("fraudwatch_counter", (("name", "something.new"),), 1.0) in exposed
    assert not any("M1" in str(labels) for _, labels, _ in exposed)  # one series per merchant is too many


def test_the_exposition_has_counters_latency_histograms_tables_and_readiness() -> None:
    worker_metrics.incr("dead_letter.oversized", 3)
    worker_metrics.observe_latency(12.0)
    exposed = samples()
    assert exposed[("fraudwatch_dead_letters_total", (("reason", "oversized"),))] >= 3
    assert exposed[("fraudwatch_alert_latency_seconds_bucket", (("le", "0.025"),))] >= 1
    assert exposed[("fraudwatch_alert_latency_seconds_count", ())] >= 1
    tables = {labels[0][1] for name, labels in exposed if name == "fraudwatch_table_keys"}
    assert tables == set(app.tables.keys()) and tables
    assert exposed[("fraudwatch_ready", ())] == 0.0  # never started: nothing assigned
    assert "no partitions assigned" in readiness_problems(app)


def test_lag_per_partition_uses_the_committed_offset_before_anything_was_read() -> None:
    assert partition_lags({"a": 4}, {"a": 10, "b": 3, "c": 8}, {"c": 8, "b": 1}) == {"a": 5, "b": 2, "c": 0}
