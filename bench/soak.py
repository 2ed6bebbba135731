"""Soak: `fraudwatch demo` left running at its default rate, its counts read once a minute.

Starts `fraudwatch demo` exactly as `make demo` does (embedded broker, worker, dashboard, generator,
SMTP catcher) on a scratch data dir and free ports, then reads from the broker every ``--every``
seconds: transactions produced (the raw topic's end), transactions decided (one audit record per
decision) and the gap between them. The system keeps up when the decided count rises in every
interval and the gap does not grow: the last line says whether both held.

    .venv/bin/python -m bench.soak [--minutes 120] [--every 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import REPO, decided_so_far
from config.broker import bootstrap_servers
from config.settings import Settings
from runtime.broker import free_port, running_embedded_broker


async def produced_so_far(consumer: AIOKafkaConsumer, settings: Settings) -> int:
    partitions = consumer.partitions_for_topic(settings.topic_raw_transactions) or set()
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(settings.topic_raw_transactions) or set()
    ends = await consumer.end_offsets([TopicPartition(settings.topic_raw_transactions, p) for p in partitions])
    return sum(ends.values())


async def watch(settings: Settings, demo: subprocess.Popen[bytes], minutes: float, every: float) -> bool:
    url = None
    for _ in range(600):
        url = running_embedded_broker(settings.embedded_state_file)
        if url is not None:
            break
        await asyncio.sleep(0.5)
    if url is None:
        raise RuntimeError("the demo's embedded broker did not start")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=None)
    await consumer.start()
    try:
        print(f"{'minute':>7} {'produced':>10} {'decided':>10} {'gap':>8} {'decided/s':>10}", flush=True)
        started = time.monotonic()
        previous_decided, previous_at = 0, started
        rising, gaps = True, []
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(every)
            if demo.poll() is not None:
                print(f"the demo exited with {demo.returncode}", flush=True)
                return False
            produced, decided = await produced_so_far(consumer, settings), await decided_so_far(consumer, settings)
            now = time.monotonic()
            rate = (decided - previous_decided) / (now - previous_at)
            rising = rising and decided > previous_decided
            gaps.append(produced - decided)
            print(
                f"{(now - started) / 60:>7.1f} {produced:>10} {decided:>10} {produced - decided:>8} {rate:>10.1f}",
                flush=True,
            )
            previous_decided, previous_at = decided, now
        steady = max(gaps[len(gaps) // 2 :]) <= max(2 * max(gaps[: max(1, len(gaps) // 2)]), 1000)
        print(f"decided count rose in every interval: {rising}; gap stayed bounded: {steady}")
        return rising and steady
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fraudwatch-soak-") as data_dir:
        env = {
            **os.environ,
            "FRAUDWATCH_DATA_DIR": data_dir,
            "FRAUDWATCH_WEB_PORT": str(free_port()),
            "FRAUDWATCH_DASHBOARD_PORT": str(free_port()),
            "FRAUDWATCH_SMTP_PORT": str(free_port()),
        }
        env = {k: v for k, v in env.items() if k != "FRAUDWATCH_BROKER"}  # the demo's own embedded broker
        os.environ.update({k: v for k, v in env.items() if k.startswith("FRAUDWATCH_")})
        settings = Settings()
        log = (Path(data_dir) / "demo.log").open("ab")
        demo = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "demo"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            held = asyncio.run(watch(settings, demo, args.minutes, args.every))
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
        if not held:
            tail = (Path(data_dir) / "demo.log").read_text(errors="replace").splitlines()[-30:]
            print("last lines of the demo's log:", *tail, sep="\n  ", file=sys.stderr)
    raise SystemExit(0 if held else 1)


if __name__ == "__main__":
    main()
