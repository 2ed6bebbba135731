"""The webhook sink in a real worker: a local HTTP server, the embedded broker, the same guarantees as email."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from config.settings import Settings
from config.topics import topic_specs
from detection.models import DeadLetter
from runtime.broker import EmbeddedBroker, free_port
from runtime.topics import ensure_topics
from tests.integration.harness import WorkerProcess, isolated_settings, read_topic, wait_for
from tests.integration.test_notify import publish_alerts
from tests.webhook_receiver import WebhookReceiver, webhook_receiver


async def webhook_system(broker: EmbeddedBroker, data_dir: Path, url: str) -> tuple[Settings, dict[str, str]]:
    settings, env = isolated_settings(
        broker,
        data_dir,
        webhook_url=url,
        webhook_retry_initial_s=0.2,
        webhook_retry_max_s=1.0,
        smtp_port=free_port(),  # no SMTP server: the email sink just keeps retrying beside it
    )
    await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)
    return settings, env


async def accepted(receiver: WebhookReceiver, count: int) -> None:
    async def enough() -> bool:
        return len(receiver.accepted) >= count

    await wait_for(enough, timeout_s=60, interval_s=0.1)


async def test_an_endpoint_failing_for_a_while_gets_every_alert_once_and_refusals_go_aside(
    broker: EmbeddedBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    async with webhook_receiver(script=[503, 503, 503, 500], refuse={"C-refused"}) as receiver:
        settings, env = await webhook_system(broker, tmp_path, receiver.url)
        start_worker(env)
        await publish_alerts(broker, settings, range(4))
        await publish_alerts(broker, settings, range(4, 6), customer="C-refused")
        await accepted(receiver, 4)
        records = await read_topic(broker.url, settings.topic_notify_dead_letter, 2)
        await asyncio.sleep(1.5)
    ids = receiver.alert_ids()
    assert len(ids) == 4 and len(set(ids)) == 4
    assert len(receiver.requests) >= 4 + 4 + 2  # the four failures were retried; the refusals were not
    assert all(r.headers["Idempotency-Key"] == r.json()["alert_id"] for r in receiver.accepted)
    letters = [DeadLetter.model_validate_json(r.value) for r in records]
    assert len(letters) == 2
    assert all(letter.reason == "webhook_refused" and letter.stage == "notify.webhook" for letter in letters)
    assert "HTTP 422" in letters[0].errors[0].msg


async def test_a_worker_killed_before_its_commit_does_not_post_again(
    broker: EmbeddedBroker, tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    async with webhook_receiver() as receiver:
        settings, env = await webhook_system(broker, tmp_path, receiver.url)
        env = {**env, "FRAUDWATCH_COMMIT_INTERVAL_S": "120"}  # the kill always lands before a commit
        first = start_worker(env, "first")
        await publish_alerts(broker, settings, range(3), customer="C-same")
        await accepted(receiver, 3)
        # A kill in the milliseconds between a 2xx and the marker's flush would post again (at least once:
        # receivers drop the repeat by its Idempotency-Key); this test is about the markers surviving.
        await asyncio.sleep(1.0)
        first.kill()
        start_worker(env, "second")
        await publish_alerts(broker, settings, range(3, 4), customer="C-same")  # same partition, after them
        await accepted(receiver, 4)
        await asyncio.sleep(1.0)
    ids = receiver.alert_ids()
    assert len(ids) == 4 and len(set(ids)) == 4
