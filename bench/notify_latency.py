"""Alert-to-SMTP-accepted latency at a steady alert rate.

Runs the embedded broker, one worker and a real SMTP server (aiosmtpd, in this process); publishes
alerts straight to the alerts topic and times each until the server accepted its email.

    .venv/bin/python -m bench.notify_latency [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller

from bench.common import broker_and_worker, percentile
from config.settings import Settings
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker, free_port
from tests.alerts_fixture import make_alert


class TimingInbox:
    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        alert_id = message_from_bytes(envelope.content)["X-Fraudwatch-Alert-Id"]
        self.accepted[str(alert_id)] = time.perf_counter()
        return "250 OK"


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker never delivered the warm-up email")
        await asyncio.sleep(0.1)


async def measure(broker: EmbeddedBroker, settings: Settings, inbox: TimingInbox, rate: float, seconds: float) -> None:
    sent: dict[str, float] = {}
    async with kafka_producer(broker.url) as producer:
        warm = make_alert(0)
        await producer.send_and_wait(settings.topic_alerts, warm.model_dump_json().encode(), key=b"C0")
        await wait_until(lambda: warm.alert_id in inbox.accepted, timeout_s=120)  # worker ready: warm-up email arrived
        total = int(rate * seconds)
        begin = time.perf_counter()
        for n in range(1, total + 1):
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            alert = make_alert(n)
            sent[alert.alert_id] = time.perf_counter()
            await producer.send(
                settings.topic_alerts, alert.model_dump_json().encode(), key=alert.customer.customer_id.encode()
            )
        await producer.flush()
    await asyncio.sleep(3)
    latencies = [(inbox.accepted[a] - t) * 1000 for a, t in sent.items() if a in inbox.accepted]
    print(f"alerts published         {len(sent)} at {rate:.0f}/s")
    print(f"emails accepted          {len(latencies)}")
    if latencies:
        print(f"alert -> SMTP 250 p50    {percentile(latencies, 0.50):.1f} ms")
        print(f"alert -> SMTP 250 p99    {percentile(latencies, 0.99):.1f} ms")
        print(f"alert -> SMTP 250 max    {max(latencies):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    inbox = TimingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = {
            "FRAUDWATCH_SMTP_PORT": str(port),
            "FRAUDWATCH_MAIL_RATE_PER_MINUTE": "100000",
            "FRAUDWATCH_MAIL_GROUP_WINDOW_S": "0",
        }
        with broker_and_worker(env) as (broker, settings):
            asyncio.run(measure(broker, settings, inbox, args.rate, args.seconds))
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
