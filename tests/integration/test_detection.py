"""Detection against the embedded broker: joins, restart recovery, replay-stable alert ids."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.validate import customer_partition
from config.settings import Settings
from detection.alert import Alert
from detection.models import BlacklistEntry, Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker
from tests.integration.harness import (
    WorkerProcess,
    get_json,
    kcat_consume,
    read_topic,
    wait_for,
)


def transaction(n: int, customer: str, seconds: float = 0.0, amount: float = 30.0) -> Transaction:
    return Transaction(
        transaction_id=f"{customer}-{n}",
        timestamp=datetime.now(UTC) + timedelta(seconds=seconds),
        customer_id=customer,
        amount=amount,
        currency="EUR",
        country="DE",
        latitude=52.52,
        longitude=13.40,
        merchant_id="M1",
        terminal_id="M1-T0",
        channel="pos",
        device_id="D1",
    )


async def produce(broker: EmbeddedBroker, topic: str, records: list[Transaction] | list[bytes], key: bytes) -> None:
    async with kafka_producer(broker.url) as producer:
        for record in records:
            value = record if isinstance(record, bytes) else record.model_dump_json().encode()
            await producer.send(topic, value, key=key)


async def warm_up(broker: EmbeddedBroker, settings: Settings) -> None:
    """Wait until the worker has joined and processes records."""
    await produce(broker, settings.topic_raw_transactions, [transaction(0, "warm-up")], b"warm-up")
    assert await read_topic(broker.url, settings.topic_validated_transactions, 1, timeout_s=60)


async def test_a_blacklist_update_reaches_detection_within_a_second(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    start_worker(env)
    await warm_up(broker, settings)
    entry = BlacklistEntry(customer_id="C-listed", reason="mule account", listed_at=datetime.now(UTC))
    async with kafka_producer(broker.url) as producer:
        await producer.send_and_wait(settings.topic_blacklist, entry.model_dump_json().encode(), key=b"C-listed")

    async def listed() -> bool:
        status, body = await get_json(settings.web_port, "/api/customers/C-listed/reference")
        return status == 200 and body.get("blacklist") is not None

    assert await wait_for(listed, timeout_s=1.0) < 1.0

    await produce(broker, settings.topic_raw_transactions, [transaction(1, "C-listed")], b"C-listed")
    alerts = [Alert.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_alerts, 1)]
    assert alerts and "BLACKLISTED" in {r.code for r in alerts[0].reasons}


async def test_state_recovers_from_the_changelog_after_a_restart_with_a_wiped_data_dir(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    first = start_worker(env, "first")
    await warm_up(broker, settings)
    # C-restart and three customers on its partition, sent together: the worker scores them in one
    # batch, so their state writes share one changelog batch, whose end Tansu reports as the batch's
    # base offset + 1. The restore below must read past that (agents.transport probes the true end).
    neighbours = co_partitioned("C-restart", 3)
    async with kafka_producer(broker.url) as producer:
        for customer, transactions in [("C-restart", 8)] + [(n, 1) for n in neighbours]:
            for i in range(1, transactions + 1):
                value = transaction(i, customer, i).model_dump_json().encode()
                await producer.send(settings.topic_raw_transactions, value, key=customer.encode())

    async def seen(customer: str, count: int) -> bool:
        status, body = await get_json(settings.web_port, f"/api/customers/{customer}")
        return status == 200 and body["behaviour"]["transactions_seen"] == count

    async def all_seen() -> bool:
        return await seen("C-restart", 8) and all([await seen(n, 1) for n in neighbours])

    await wait_for(all_seen, timeout_s=30)
    assert first.stop() == 0
    changelog = f"{settings.app_id}-customer-behaviour-changelog"
    records = await read_topic(broker.url, changelog, expected=12, timeout_s=5)
    assert 5 <= len(records) <= 12  # warm-up and 4 customers: one write per customer per batch, at most one each
    shutil.rmtree(Path(env["FRAUDWATCH_DATA_DIR"]) / "worker")  # only the changelog topic is left

    start_worker(env, "second")
    await produce(broker, settings.topic_raw_transactions, [transaction(9, "C-restart", 9)], b"C-restart")
    await wait_for(lambda: seen("C-restart", 9), timeout_s=60)
    for neighbour in neighbours:
        assert await seen(neighbour, 1)
    status, body = await get_json(settings.web_port, "/api/customers/C-restart/transactions?limit=3")
    assert status == 200 and body["total"] == 9 and body["next_offset"] == 3
    assert [item["transaction_id"] for item in body["items"]] == ["C-restart-9", "C-restart-8", "C-restart-7"]


def co_partitioned(customer: str, count: int) -> list[str]:
    """``count`` other customer ids whose records land on ``customer``'s partition."""
    partition = customer_partition(customer.encode())
    candidates = (f"C-neighbour-{n}" for n in range(10_000))
    return [c for c in candidates if customer_partition(c.encode()) == partition][:count]


async def test_alert_ids_are_stable_across_a_replay_and_kcat_reads_alerts(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    start_worker(env)
    await warm_up(broker, settings)
    burst = [transaction(i, "C-burst", i * 2.0, amount=1.0) for i in range(1, 5)] + [
        transaction(5, "C-burst", 10.0, amount=900.0)
    ]
    raw = [t.model_dump_json().encode() for t in burst]
    await produce(broker, settings.topic_raw_transactions, raw, b"C-burst")
    first = [Alert.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_alerts, 2)]
    assert first and any("CARD_TESTING" in {r.code for r in a.reasons} for a in first)

    await produce(broker, settings.topic_raw_transactions, raw, b"C-burst")  # the producer retries everything
    everything = [
        Alert.model_validate_json(r.value)
        for r in await read_topic(broker.url, settings.topic_alerts, 2 * len(first), timeout_s=30)
    ]
    by_transaction: dict[str, set[str]] = {}
    for alert in everything:
        by_transaction.setdefault(alert.transaction.transaction_id, set()).add(alert.alert_id)
    assert len(everything) == 2 * len(first)
    assert all(len(ids) == 1 for ids in by_transaction.values())

    lines = (await kcat_consume(broker.bootstrap, settings.topic_alerts, count=len(first))).splitlines()
    assert [json.loads(line)["alert_id"] for line in lines] == [a.alert_id for a in first]
