"""The learning loop against the embedded broker: decisions log -> feedback join -> train -> hot-load -> shadow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.model_store import load_registry, read_to_end
from agents.retrain import SCHEDULER
from config.settings import Settings
from detection.decisions import DecisionRecord, activity_record_deltas
from detection.metrics import Family, MetricsTotals
from detection.model_quality import model_qualities
from detection.models import Feedback, MetricsSnapshot, Transaction
from producers.generate import write_files
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker, free_port
from tests.integration.harness import REPO, WorkerProcess, get_json, wait_for

TRAINING, LATER = 600, 200


def labelled_stream(directory: Path) -> tuple[list[Transaction], dict[str, Feedback]]:
    write_files(
        directory,
        count=TRAINING + LATER,
        rate=None,
        seed=5,
        customers=300,
        merchants=40,
        fraud_rate=0.05,
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    transactions = [Transaction.model_validate_json(line) for line in (directory / "transactions.jsonl").open()]
    outcomes = [Feedback.model_validate_json(line) for line in (directory / "feedback.jsonl").open()]
    # A chargeback names the transaction and the customer only: the worker finds the rest in its log.
    bare = {f.transaction_id: f.model_copy(update={"merchant_id": None, "terminal_id": None}) for f in outcomes}
    return transactions, bare


async def produce(broker: EmbeddedBroker, topic: str, records: list[Transaction] | list[Feedback]) -> None:
    async with kafka_producer(broker.url) as producer:
        for record in records:
            await producer.send(topic, record.model_dump_json().encode(), key=record.customer_id.encode())


async def decisions_for(broker: EmbeddedBroker, settings: Settings, ids: set[str]) -> dict[str, DecisionRecord]:
    records = [
        DecisionRecord.model_validate_json(r.value) for r in await read_to_end(broker.url, settings.topic_decisions)
    ]
    return {r.transaction_id: r for r in records if r.transaction_id in ids}


async def metric_totals(broker: EmbeddedBroker, settings: Settings) -> tuple[MetricsTotals, list[MetricsSnapshot]]:
    totals = MetricsTotals()
    snapshots = [
        MetricsSnapshot.model_validate_json(r.value) for r in await read_to_end(broker.url, settings.topic_metrics)
    ]
    for snapshot in snapshots:
        totals.add(snapshot)
    return totals, snapshots


def fraudwatch(env: dict[str, str], *args: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.timeout(900)  # about a minute on a quiet machine; many on a loaded 2-core one
async def test_a_model_trained_from_the_decisions_log_is_hot_loaded_and_a_shadow_is_judged(
    broker: EmbeddedBroker,
    system: tuple[Settings, dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    settings, env = system
    import os

    command_env = {**os.environ, **env}
    # Retraining every 20 s: none before the feedback (too few labels), then a new shadow each time.
    start_worker({**env, "FRAUDWATCH_RETRAIN_INTERVAL_S": "20", "FRAUDWATCH_RETRAIN_WINDOW_DAYS": "400"})
    transactions, feedback = labelled_stream(tmp_path / "stream")
    training, later = transactions[:TRAINING], transactions[TRAINING:]

    # 1. Every decision is logged with its features; then feedback (transaction + customer only) arrives.
    await produce(broker, settings.topic_raw_transactions, training)
    training_ids = {t.transaction_id for t in training}

    async def all_logged() -> bool:
        totals, _ = await metric_totals(broker, settings)
        return totals.counters["decisions.logged"] >= len(training)

    await wait_for(all_logged, timeout_s=300, interval_s=1.0)  # a loaded 2-core machine: minutes
    logged = await decisions_for(broker, settings, training_ids)
    assert len(logged) == len(training) and all(r.model_version is None and r.feature_vector for r in logged.values())
    judged = [feedback[t.transaction_id] for t in training if t.transaction_id in feedback]
    await produce(broker, settings.topic_feedback, judged)

    # The chargebacks taught the terminals: fraud marks on the activity topic, found through the log.
    fraud_terminals = {
        f"terminal:{t.terminal_id}" for t in training if feedback.get(t.transaction_id, None) and t.is_fraud
    }

    async def terminals_taught() -> bool:
        deltas = [
            delta
            for r in await read_to_end(broker.url, settings.topic_entity_activity)
            for delta in activity_record_deltas(r.value)
        ]
        taught = {d.entity for d in deltas if d.frauds}
        return fraud_terminals <= taught

    await wait_for(terminals_taught, timeout_s=120, interval_s=1.0)

    # 2. Train from the log and the feedback, publish as champion: the running worker hot-loads it.
    trained = fraudwatch(command_env, "train", "--days", "400", "--version", "champion1", "--promote")
    assert trained["version"] == "champion1" and trained["published"] == "promote"
    await asyncio.sleep(1.0)  # the worker folds the models topic continuously; no restart
    await produce(broker, settings.topic_raw_transactions, later[:100])
    later_ids = {t.transaction_id for t in later[:100]}

    async def scored_by_champion() -> bool:
        return len(await decisions_for(broker, settings, later_ids)) == len(later_ids)

    await wait_for(scored_by_champion, timeout_s=120, interval_s=1.0)
    rescored = await decisions_for(broker, settings, later_ids)
    assert {r.model_version for r in rescored.values()} == {"champion1"}

    # 3. The leader's scheduled retraining puts a new model in shadow: scored on live traffic beside the
    # champion, judged by feedback, counted on the metrics topic the dashboard reads, never alerting.
    async def shadow_scheduled() -> bool:
        return bool(await scheduled_shadows(broker, settings))

    await wait_for(shadow_scheduled, timeout_s=120, interval_s=1.0)
    rest = later[100:]
    await produce(broker, settings.topic_raw_transactions, rest)
    rest_ids = {t.transaction_id for t in rest}

    async def rest_logged() -> bool:
        return len(await decisions_for(broker, settings, rest_ids)) == len(rest_ids)

    await wait_for(rest_logged, timeout_s=120, interval_s=1.0)
    shadows = await scheduled_shadows(broker, settings)  # retraining may have replaced the shadow meanwhile
    shadow_scored = await decisions_for(broker, settings, rest_ids)
    assert {r.shadow_version for r in shadow_scored.values()} <= shadows
    assert {r.model_version for r in shadow_scored.values()} == {"champion1"}
    rest_feedback = [feedback[t.transaction_id] for t in rest if t.transaction_id in feedback]
    assert rest_feedback
    await produce(broker, settings.topic_feedback, rest_feedback)

    async def shadow_judged() -> bool:
        totals, snapshots = await metric_totals(broker, settings)
        quality = model_qualities(totals.family(Family.MODEL))
        judged = sum(quality[v].judged for v in shadows if v in quality)
        return judged == len(rest_feedback) and any(s.models.get("shadow") in shadows for s in snapshots)

    await wait_for(shadow_judged, timeout_s=120, interval_s=1.0)
    totals, _ = await metric_totals(broker, settings)
    quality = model_qualities(totals.family(Family.MODEL))
    assert quality["champion1"].judged == len(rest_feedback)
    assert all(0.0 <= quality[v].average_precision <= 1.0 for v in shadows if v in quality)


async def scheduled_shadows(broker: EmbeddedBroker, settings: Settings) -> set[str]:
    """Versions the scheduled retraining put in shadow so far."""
    registry = await load_registry(broker.url, settings.topic_models)
    return {e.version for e in registry.events if e.actor == SCHEDULER and e.action == "shadow" and e.version}


@pytest.mark.timeout(600)
async def test_two_workers_both_see_exact_terminal_activity_and_a_bare_chargeback(
    broker: EmbeddedBroker,
    system: tuple[Settings, dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    settings, env = system
    ports = [settings.web_port, free_port()]
    start_worker(env, "first")
    second_data_dir = str(Path(env["FRAUDWATCH_DATA_DIR"]).with_name("second-data"))  # as on another machine
    start_worker({**env, "FRAUDWATCH_WEB_PORT": str(ports[1]), "FRAUDWATCH_DATA_DIR": second_data_dir}, "second")
    now = datetime.now(UTC)
    shared = [
        Transaction(
            transaction_id=f"TX-{n}",
            timestamp=now,
            customer_id=f"C-{n}",  # spread over every partition, so both workers score some
            amount=20.0 + n,
            currency="EUR",
            merchant_id="M-shared",
            terminal_id="T-shared",
        )
        for n in range(24)
    ]
    await produce(broker, settings.topic_raw_transactions, shared)

    async def everywhere(expected_frauds: list[str]) -> bool:
        for port in ports:
            status, body = await get_json(port, "/api/activity/terminal/T-shared")
            if status != 200 or sum(d["transactions"] for d in body["days"]) != len(shared):
                return False
            if body["frauds"] != expected_frauds:
                return False
        return True

    await wait_for(lambda: everywhere([]), timeout_s=300, interval_s=1.0)
    chargeback = Feedback(transaction_id="TX-7", customer_id="C-7", is_fraud=True, known_at=now, source="chargeback")
    await produce(broker, settings.topic_feedback, [chargeback])
    await wait_for(lambda: everywhere(["TX-7"]), timeout_s=120, interval_s=1.0)
    # A worker that starts now reads the table's changelog up to its applied mark and folds the activity
    # records after it itself: it must count what the others count, neither less nor twice.
    ports.append(free_port())
    third_data_dir = str(Path(env["FRAUDWATCH_DATA_DIR"]).with_name("third-data"))
    start_worker({**env, "FRAUDWATCH_WEB_PORT": str(ports[2]), "FRAUDWATCH_DATA_DIR": third_data_dir}, "third")
    await wait_for(lambda: everywhere(["TX-7"]), timeout_s=180, interval_s=1.0)
    for port in ports:
        status, body = await get_json(port, "/api/activity/merchant/M-shared")
        assert status == 200 and body["frauds"] == ["TX-7"]
