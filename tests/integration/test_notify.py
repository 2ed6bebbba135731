"""The email notifier against a real SMTP server (aiosmtpd on loopback) and the embedded broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.settings import Settings
from config.topics import topic_specs
from detection.models import DeadLetter
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker, free_port
from runtime.topics import ensure_topics
from tests.alerts_fixture import make_alert
from tests.integration.harness import WorkerProcess, isolated_settings, read_topic, wait_for


class Inbox:
    """aiosmtpd handler: keeps what it accepts; refuses listed recipients with 550."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[tuple[Inbox, Controller]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield handler, controller
    controller.stop()


async def notifier_system(
    broker: EmbeddedBroker, data_dir: Path, smtp_port: int, **overrides: object
) -> tuple[Settings, dict[str, str]]:
    settings, env = isolated_settings(
        broker,
        data_dir,
        smtp_port=smtp_port,
        mail_to="analysts@bank.test",
        smtp_retry_initial_s=0.2,
        smtp_retry_max_s=1.0,
        mail_group_window_s=0,
        **overrides,
    )
    await ensure_topics(broker.url, topic_specs(settings), settings.topic_retention_ms)
    return settings, env


async def publish_alerts(
    broker: EmbeddedBroker, settings: Settings, numbers: range, customer: str | None = None
) -> None:
    async with kafka_producer(broker.url) as producer:
        for n in numbers:
            alert = make_alert(n, customer=customer)
            await producer.send(
                settings.topic_alerts, alert.model_dump_json().encode(), key=alert.customer.customer_id.encode()
            )


def plain_text(message: Message) -> str:
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "text/plain" and isinstance(payload, bytes):
            return payload.decode()
    return ""


async def received(inbox: Inbox, count: int, timeout_s: float = 60) -> None:
    async def enough() -> bool:
        return len(inbox.messages) >= count

    await wait_for(enough, timeout_s=timeout_s, interval_s=0.1)


async def test_every_alert_arrives_once_as_html_and_text(
    broker: EmbeddedBroker,
    tmp_path: Path,
    smtp_port: int,
    inbox: tuple[Inbox, Controller],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    handler, _ = inbox
    settings, env = await notifier_system(broker, tmp_path, smtp_port)
    start_worker(env)
    await publish_alerts(broker, settings, range(3))
    await received(handler, 3)
    await asyncio.sleep(1.0)
    assert len(handler.messages) == 3 and len(set(handler.message_ids())) == 3
    for message in handler.messages:
        types = {part.get_content_type() for part in message.walk()}
        assert {"text/plain", "text/html"} <= types
        assert message["To"] == "analysts@bank.test" and "fraudwatch" in message["Subject"]


async def test_an_smtp_server_down_for_a_while_gets_every_alert_exactly_once(
    broker: EmbeddedBroker, tmp_path: Path, smtp_port: int, start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = await notifier_system(broker, tmp_path, smtp_port)
    start_worker(env)
    await publish_alerts(broker, settings, range(5))
    await asyncio.sleep(4.0)  # the worker keeps retrying against a closed port
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        await received(handler, 5)
        await asyncio.sleep(2.0)
        assert sorted(handler.message_ids()) == sorted(set(handler.message_ids())) and len(handler.messages) == 5
    finally:
        controller.stop()


async def test_a_worker_killed_between_send_and_commit_does_not_send_again(
    broker: EmbeddedBroker,
    tmp_path: Path,
    smtp_port: int,
    inbox: tuple[Inbox, Controller],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    handler, _ = inbox
    # Offsets are committed only every 120 s: the kill below always lands before the commit.
    settings, env = await notifier_system(broker, tmp_path, smtp_port, commit_interval_s=120)
    first = start_worker(env, "first")
    await publish_alerts(broker, settings, range(4), customer="C-same")
    await received(handler, 4)
    first.kill()

    start_worker(env, "second")
    await publish_alerts(broker, settings, range(4, 5), customer="C-same")  # same partition, after the others
    await received(handler, 5)
    await asyncio.sleep(1.0)
    assert len(handler.messages) == 5 and len(set(handler.message_ids())) == 5


async def test_a_permanent_refusal_goes_to_the_dead_letter_topic(
    broker: EmbeddedBroker,
    tmp_path: Path,
    smtp_port: int,
    inbox: tuple[Inbox, Controller],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    handler, _ = inbox
    handler.refused.add("analysts@bank.test")
    settings, env = await notifier_system(broker, tmp_path, smtp_port)
    start_worker(env)
    await publish_alerts(broker, settings, range(2))
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_topic(broker.url, settings.topic_notify_dead_letter, 2)
    ]
    assert len(letters) == 2
    assert all(letter.reason == "smtp_refused" and letter.stage == "notify.email" for letter in letters)
    assert "550" in letters[0].errors[0].msg and handler.messages == []


async def test_the_rate_limit_turns_a_burst_into_a_digest(
    broker: EmbeddedBroker,
    tmp_path: Path,
    smtp_port: int,
    inbox: tuple[Inbox, Controller],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    handler, _ = inbox
    settings, env = await notifier_system(broker, tmp_path, smtp_port, mail_rate_per_minute=3, mail_digest_interval_s=2)
    start_worker(env)
    await publish_alerts(broker, settings, range(10), customer="C-burst")
    await received(handler, 4)
    await asyncio.sleep(3.0)
    subjects = [str(m["Subject"]) for m in handler.messages]
    digests = [s for s in subjects if s.startswith("[fraudwatch digest]")]
    assert len(handler.messages) == 4 and len(digests) == 1
    assert digests[0].startswith("[fraudwatch digest] 7 alerts")


async def test_stopping_during_an_smtp_outage_loses_nothing_and_does_not_hang(
    broker: EmbeddedBroker, tmp_path: Path, smtp_port: int, start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = await notifier_system(broker, tmp_path, smtp_port)
    first = start_worker(env, "first")
    await publish_alerts(broker, settings, range(3))
    await asyncio.sleep(5.0)  # the notifier is retrying against a closed port
    assert first.stop(timeout=30) == 0  # it lets go (alerts put back on the retry topic) instead of hanging

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        start_worker(env, "second")
        await received(handler, 3)
        await asyncio.sleep(2.0)
        assert len(handler.messages) == 3 and len(set(handler.message_ids())) == 3
    finally:
        controller.stop()


async def test_sigterm_with_alerts_held_for_the_digest_stops_promptly_and_loses_none(
    broker: EmbeddedBroker,
    tmp_path: Path,
    smtp_port: int,
    inbox: tuple[Inbox, Controller],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """Faust's timers end on SIGTERM and its wait_empty waits for every unacknowledged event: alerts held
    for a digest due in a minute used to keep the worker from exiting. They are put back instead."""
    handler, _ = inbox
    settings, env = await notifier_system(
        broker, tmp_path, smtp_port, mail_rate_per_minute=1, mail_digest_interval_s=60
    )
    first = start_worker(env, "first")
    await publish_alerts(broker, settings, range(6), customer="C-held")
    await received(handler, 1)  # the first alert went out directly; the other five wait for the digest
    await asyncio.sleep(2.0)
    loop = asyncio.get_running_loop()
    stopping = loop.time()
    assert await asyncio.to_thread(first.stop, 20.0) == 0  # exited by itself, not killed after the timeout
    assert loop.time() - stopping < 15
    assert len(handler.messages) == 1

    # The second worker's own rate limit sends one of the five directly and digests the other four.
    start_worker({**env, "FRAUDWATCH_MAIL_DIGEST_INTERVAL_S": "1"}, "second")
    await received(handler, 3)
    await asyncio.sleep(2.0)
    texts = [plain_text(message) for message in handler.messages]
    for n in range(6):
        alert_id = make_alert(n, customer="C-held").alert_id
        assert sum(alert_id in text for text in texts) == 1, alert_id
    assert len(handler.messages) == 3
