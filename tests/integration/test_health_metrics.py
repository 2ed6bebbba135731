"""A live worker's /health, /ready and Prometheus /metrics."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings
from runtime.broker import EmbeddedBroker
from tests.integration.harness import WorkerProcess, read_topic, wait_for
from tests.integration.test_detection import produce, transaction


async def fetch(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def test_health_then_ready_then_metrics_of_what_the_worker_did(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    start_worker(env)

    async def answers(path: str) -> bool:
        return (await fetch(settings.web_port, path))[0] == 200

    await wait_for(lambda: answers("/health"), timeout_s=60)
    await wait_for(lambda: answers("/ready"), timeout_s=60)
    await produce(broker, settings.topic_raw_transactions, [transaction(i, "C-metrics", i) for i in range(5)], b"C")
    await produce(broker, settings.topic_raw_transactions, [b"{broken"], b"C")
    assert len(await read_topic(broker.url, settings.topic_validated_transactions, 5)) == 5

    async def scraped() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, text = await fetch(settings.web_port, "/metrics")
        assert status == 200
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async def counted() -> bool:
        metrics = await scraped()
        return metrics.get(("fraudwatch_transactions_total", frozenset({("outcome", "scored")})), 0) >= 5

    await wait_for(counted, timeout_s=30, interval_s=0.5)
    metrics = await scraped()
    raw = settings.topic_raw_transactions
    assert metrics[("fraudwatch_transactions_total", frozenset({("outcome", "valid")}))] == 5
    assert metrics[("fraudwatch_dead_letters_total", frozenset({("reason", "not_json")}))] == 1
    assert metrics[("fraudwatch_messages_received_total", frozenset({("topic", raw)}))] >= 6
    lags = {labels: v for (name, labels), v in metrics.items() if name == "fraudwatch_consumer_lag"}
    raw_lags = [value for labels, value in lags.items() if dict(labels)["topic"] == raw]
    assert raw_lags and all(value == 0 for value in raw_lags)  # per partition fetched from; all read
    assert metrics[("fraudwatch_table_keys", frozenset({("table", "customer-behaviour")}))] >= 1
    assert metrics[("fraudwatch_event_processing_seconds_count", frozenset({("stage", "detect")}))] >= 5
    assert metrics[("fraudwatch_ready", frozenset())] == 1.0
