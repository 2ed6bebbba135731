"""Operating fraudwatch live: rule sets switched and rolled back without a restart, shadow runs,
allow lists with expiry, the decision API and the audit trail, against the embedded broker."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import Settings
from detection.alert import Alert
from detection.models import Feedback, MetricsSnapshot
from runtime.broker import EmbeddedBroker, free_port
from tests.integration.harness import WorkerProcess, get_json, read_topic, wait_for
from tests.integration.ops_harness import fraudwatch, rules_file, score
from tests.integration.test_detection import produce, transaction, warm_up

Start = Callable[..., WorkerProcess]


@pytest.mark.timeout(600)  # two worker starts and five command processes; each start takes minutes under load
async def test_a_published_rule_set_decides_the_next_transactions_and_rollback_restores_the_old_one(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Start, tmp_path: Path
) -> None:
    settings, env = system
    worker = start_worker(env)
    await warm_up(broker, settings)
    port = settings.web_port
    status, before = await score(port, transaction(1, "C-rules", amount=3500.0))  # HIGH_AMOUNT: score 45
    assert status == 200, before
    assert before["decision"] == "allow" and not before["would_alert"] and before["score"] == 45

    strict = rules_file(tmp_path / "strict.toml", "2026.12.1", alert_threshold=40)
    published = await fraudwatch(env, "rules", "publish", str(strict), "--reason", "catch large amounts", "--by", "ann")
    offset = json.loads(published.stdout.strip().splitlines()[-1])["offset"]

    async def switched() -> bool:
        _, body = await score(port, transaction(1, "C-rules", amount=3500.0))
        return bool(body["rules_version"].startswith("2026.12.1+"))

    await wait_for(switched, timeout_s=10)
    _, after = await score(port, transaction(1, "C-rules", amount=3500.0))
    assert after["would_alert"] and after["score"] == 45  # same score, now over the new alert threshold
    await produce(broker, settings.topic_raw_transactions, [transaction(2, "C-rules", amount=3500.0)], b"C-rules")
    alerts = [Alert.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_alerts, 1)]
    assert [a.rules_version for a in alerts] == [after["rules_version"]]

    listing = (await fraudwatch(env, "rules", "list")).stdout
    assert f"{after['rules_version']}  ACTIVE" in listing and "by ann: catch large amounts" in listing

    worker.stop()  # a restarted worker answers on the latest version from its first decision on
    start_worker(env, "worker-2")

    async def answers() -> bool:
        status, body = await score(port, transaction(1, "C-rules", amount=3500.0))
        assert status != 200 or body["rules_version"] == after["rules_version"], body
        return status == 200

    await wait_for(answers, timeout_s=90, interval_s=0.2)
    await fraudwatch(env, "rules", "rollback", before["rules_version"], "--reason", "too noisy")

    async def rolled_back() -> bool:
        _, body = await score(port, transaction(3, "C-rules", amount=3500.0))
        return bool(body["rules_version"] == before["rules_version"] and not body["would_alert"])

    await wait_for(rolled_back, timeout_s=10)
    history = (await fraudwatch(env, "audit", after["rules_version"])).stdout
    assert "ann published as active" in history and "catch large amounts" in history
    assert offset >= 0
    bad = rules_file(tmp_path / "bad.toml", "2026.12.2", alert_threshold=300)
    refused = await fraudwatch(env, "rules", "publish", str(bad), "--reason", "typo", check=False)
    assert refused.returncode == 2 and "alert_threshold" in refused.stderr and "nothing written" in refused.stderr


async def test_a_shadow_rule_set_is_counted_and_alerts_nothing(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Start, tmp_path: Path
) -> None:
    settings, env = system
    start_worker(env)
    await warm_up(broker, settings)
    eager = rules_file(tmp_path / "eager.toml", "2026.12.9", alert_threshold=1)
    await fraudwatch(env, "rules", "publish", str(eager), "--shadow", "--reason", "try a low threshold")

    async def shadow_running() -> bool:
        _, rules = await get_json(settings.web_port, "/api/rules")
        return rules["shadow"] is not None and rules["shadow"]["rules_version"].startswith("2026.12.9+")

    await wait_for(shadow_running, timeout_s=10)
    big = [transaction(n, "C-shadow", seconds=n, amount=3500.0) for n in range(1, 4)]
    await produce(broker, settings.topic_raw_transactions, big, b"C-shadow")

    async def counted(name: str, at_least: float) -> bool:
        return (await metric_totals(broker, settings)).get(name, 0) >= at_least

    await wait_for(lambda: counted("shadow_rules.alerts", 3), timeout_s=30, interval_s=0.5)
    assert (await metric_totals(broker, settings))["shadow_rules.transactions"] >= 3
    fraud = Feedback(
        transaction_id=big[0].transaction_id, is_fraud=True, known_at=datetime.now(UTC), customer_id="C-shadow"
    )
    await produce(broker, settings.topic_feedback, [fraud.model_dump_json().encode()], b"C-shadow")
    await wait_for(lambda: counted("shadow_rules.quality.true_positive", 1), timeout_s=30, interval_s=0.5)
    assert (await metric_totals(broker, settings))["quality.false_negative"] >= 1  # the active set missed it
    assert not await read_topic(broker.url, settings.topic_alerts, 1, timeout_s=2)  # 45 < the active threshold 50


async def metric_totals(broker: EmbeddedBroker, settings: Settings) -> dict[str, float]:
    """Every counter the workers published so far, summed."""
    totals: dict[str, float] = {}
    for record in await read_topic(broker.url, settings.topic_metrics, 1_000_000, timeout_s=1):
        for name, value in MetricsSnapshot.model_validate_json(record.value).counters.items():
            totals[name] = totals.get(name, 0) + value
    return totals


async def test_an_allow_listed_customer_gets_no_alert_until_the_entry_expires_and_audit_explains_after_restart(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Start
) -> None:
    settings, env = system
    worker = start_worker(env)
    await warm_up(broker, settings)
    await fraudwatch(
        env, "lists", "add", "allow", "customer", "C-vip", "--expires", "2m", "--reason", "travelling CEO", "--by", "bo"
    )

    async def listed() -> bool:
        _, lists = await get_json(settings.web_port, "/api/lists?list=allow")
        return bool(lists["total"] == 1)

    await wait_for(listed, timeout_s=10)
    # Event time decides: a burst 10 s from now is allowed; the same burst 3 minutes from now, after the
    # entry expired, alerts from its 5th transaction on (VELOCITY).
    allowed = [transaction(n, "C-vip", seconds=10 + n) for n in range(1, 7)]
    expired = [transaction(n, "C-vip", seconds=180 + n) for n in range(11, 17)]
    _, answer = await score(settings.web_port, allowed[0])
    assert answer["decision"] == "allow" and answer["listed"] == "allow_list"
    await produce(broker, settings.topic_raw_transactions, allowed + expired, b"C-vip")
    alerts = [Alert.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_alerts, 2)]
    assert sorted(a.transaction.transaction_id for a in alerts) == ["C-vip-15", "C-vip-16"]

    worker.stop()
    start_worker(env, "worker-2")
    explained = (await fraudwatch(env, "audit", "C-vip-6")).stdout
    assert "decision ALLOW" in explained and "by the allow list" in explained and "reason VELOCITY" in explained
    assert "list entry in effect: allow:customer:C-vip:*" in explained and "rules version 2026.11.1+" in explained
    explained = (await fraudwatch(env, "audit", "C-vip-16")).stdout
    assert "alert published" in explained and "reason VELOCITY" in explained and "count_1m=6" in explained


@pytest.mark.timeout(600)
async def test_any_of_two_workers_answers_for_every_customer_from_the_owner_of_its_partition(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Start, tmp_path: Path
) -> None:
    settings, env = system
    ports = [settings.web_port, free_port()]
    start_worker(env, "first")
    start_worker(
        {**env, "FRAUDWATCH_WEB_PORT": str(ports[1]), "FRAUDWATCH_DATA_DIR": str(tmp_path / "second")}, "second"
    )
    customers = [f"C-route-{n}" for n in range(16)]  # spread over every partition of the raw topic

    async def answers(port: int) -> dict[str, tuple[str, int]] | None:
        found: dict[str, tuple[str, int]] = {}
        for n, customer in enumerate(customers):
            status, body = await score(port, transaction(n, customer, amount=40.0))
            if status != 200:
                return None
            found[customer] = (body["worker"], body["score"])
        return found

    async def both_agree_and_both_own_some() -> bool:
        by_port = [await answers(port) for port in ports]
        if by_port[0] is None or by_port[0] != by_port[1]:
            return False  # a rebalance still moving partitions, or a worker not yet answering
        return len({worker for worker, _ in by_port[0].values()}) == 2

    # Whichever worker is asked, the one holding the customer's partition decides, with that customer's state.
    await wait_for(both_agree_and_both_own_some, timeout_s=300, interval_s=1.0)
