"""Soak: `fraudwatch demo` left running at its default rate, its counts read once a minute.

Starts `fraudwatch demo` exactly as `make demo` does (embedded broker, worker, dashboard, generator,
SMTP catcher) on a scratch data dir and free ports, then reads from the broker every ``--every``
seconds: transactions produced (the raw topic's end), transactions decided (the decisions log's end)
and the gap between them. After start-up (until the gap is first within 10 % of what was produced), the
system keeps up when the decided count rises in every interval and the gap stays within
max(1000, 10 % of what was produced): the last line says whether both held.

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

from aiokafka import AIOKafkaConsumer

from bench.common import REPO, decided_so_far, records_in
from config.broker import bootstrap_servers
from config.settings import Settings
from runtime.broker import free_port, running_embedded_broker


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
        warmed_up, rising, bounded = False, True, True
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(every)
            if demo.poll() is not None:
                print(f"the demo exited with {demo.returncode}", flush=True)
                return False
            produced = await records_in(consumer, settings.topic_raw_transactions)
            decided = await decided_so_far(consumer, settings)
            now = time.monotonic()
            rate = (decided - previous_decided) / (now - previous_at)
            if warmed_up:  # start-up (broker, topics, the first rebalance) is not the steady state
                rising = rising and decided > previous_decided
                bounded = bounded and produced - decided <= max(1000, produced // 10)
            warmed_up = warmed_up or (decided > 0 and produced - decided <= produced // 10)
            print(
                f"{(now - started) / 60:>7.1f} {produced:>10} {decided:>10} {produced - decided:>8} {rate:>10.1f}",
                flush=True,
            )
            previous_decided, previous_at = decided, now
        print(
            f"after start-up: decided count rose in every interval: {warmed_up and rising}; "
            f"gap stayed within max(1000, 10 % of produced): {warmed_up and bounded}"
        )
        return warmed_up and rising and bounded
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
