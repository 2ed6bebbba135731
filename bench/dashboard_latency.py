"""Time from an alert being produced to it being visible in a browser's alerts table.

Starts the embedded broker and `fraudwatch dashboard`, opens the page in headless Chromium, then
produces tagged alerts one at a time and waits for each row to appear. With --load, a background
stream adds 50 alerts/s and per-second metrics for 1 000 tx/s (the dashboard's whole input at
that rate; no worker runs, so the 2 cores are the dashboard's and the browser's).

    .venv/bin/python -m bench.dashboard_latency [--samples 40] [--load]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.common import REPO, embedded_system, percentile
from config.settings import Settings
from detection.models import MetricsSnapshot
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker
from tests.alerts_fixture import make_alert

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def background_load(broker: EmbeddedBroker, settings: Settings, stop: asyncio.Event) -> None:
    n = 0
    async with kafka_producer(broker.url) as producer:
        while not stop.is_set():
            started = time.perf_counter()
            for _ in range(50):
                n += 1
                alert = make_alert(1_000_000 + n, customer=f"BG{n % 5000:04d}")
                await producer.send(settings.topic_alerts, alert.model_dump_json().encode(), key=b"bg")
            now = datetime.now(UTC)
            snapshot = MetricsSnapshot(
                worker="load",
                interval_start=now - timedelta(seconds=1),
                interval_s=1.0,
                counters={
                    "transactions.scored": 1000,
                    "transactions.valid": 1000,
                    "alerts.severity.high": 50,
                    "alerts.rule.HIGH_AMOUNT": 50,
                },
                latency_ms_p99=20.0,
            )
            await producer.send(settings.topic_metrics, snapshot.model_dump_json().encode(), key=b"load")
            await producer.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, 1.0 - (time.perf_counter() - started)))


async def measure(broker: EmbeddedBroker, settings: Settings, samples: int, load: bool) -> None:
    from playwright.async_api import async_playwright

    stop = asyncio.Event()
    loader = asyncio.create_task(background_load(broker, settings, stop)) if load else None
    latencies: list[float] = []
    async with async_playwright() as playwright, kafka_producer(broker.url) as producer:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1200})
        for _ in range(60):
            try:
                await page.goto(f"http://127.0.0.1:{settings.dashboard_port}/dashboard")
                break
            except Exception:
                await asyncio.sleep(0.5)
        await page.wait_for_selector(".tabulator", timeout=60_000)
        for i in range(samples):
            customer = f"LAT{i:04d}"
            alert = make_alert(i, customer=customer)
            started = time.perf_counter()
            await producer.send_and_wait(settings.topic_alerts, alert.model_dump_json().encode(), key=customer.encode())
            await page.wait_for_selector(f"[tabulator-field='customer']:has-text('{customer}')", timeout=30_000)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.3)
        await browser.close()
    stop.set()
    if loader is not None:
        await loader
    print(
        f"samples                  {len(latencies)}{' under load: 50 alerts/s + metrics for 1000 tx/s' if load else ''}"
    )
    print(f"produced -> visible p50  {percentile(latencies, 0.50):.0f} ms")
    print(f"produced -> visible p99  {percentile(latencies, 0.99):.0f} ms")
    print(f"produced -> visible max  {max(latencies):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--load", action="store_true")
    args = parser.parse_args()
    with embedded_system() as (broker, settings, env):
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "dashboard"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(measure(broker, settings, args.samples, args.load))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
