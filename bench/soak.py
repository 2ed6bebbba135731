"""Soak: `fraudwatch demo` left running at its default rate, its counts read once a minute.

Starts `fraudwatch demo` exactly as `make demo` does (embedded broker, worker, dashboard, generator,
SMTP catcher) on a scratch data dir and free ports, then reads from the broker every ``--every``
seconds: transactions produced (the raw topic's end), transactions decided (the decisions log's end),
the gap between them, and the embedded broker's resident memory and CPU share over the interval.
``--rate`` (generator episodes per second, the demo's default 20 gives ~21 transactions/s) pushes
hours of the default volume through in less time. What wears the embedded broker down is the batch
count of the partitions its consumers read (bench.broker_fetch_cost), so the generator's linger is
scaled down by the same factor (500 ms x 20 / rate, unless FRAUDWATCH_GENERATOR_LINGER_MS is set):
each batch then holds as many records as at the default rate, the broker ends with the batch counts
of the slower run, and meets them fetching more often. After start-up (until the gap is first within 10 %
of what was produced), the system keeps up when the decided count rises in every interval and the gap stays within
max(1000, 10 % of what was produced): the last line says whether both held.

    .venv/bin/python -m bench.soak [--minutes 120] [--every 60] [--rate 20] [--footprint]

``--footprint`` prints, before stopping, what the broker then holds per topic (bench.broker_footprint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from bench.broker_footprint import footprint, table
from bench.common import REPO, decided_so_far, records_in
from config.broker import bootstrap_servers
from config.settings import EMBEDDED_GENERATOR_LINGER_MS, Settings
from runtime.broker import free_port, running_embedded_broker

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: `fraudwatch demo`'s default generator rate (episodes per second).
DEMO_RATE = 20.0


def process_usage(pid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds so far) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    rss_mb = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return rss_mb, cpu_s


async def watch(
    settings: Settings, demo: subprocess.Popen[bytes], minutes: float, every: float, show_footprint: bool
) -> bool:
    url = None
    for _ in range(600):
        url = running_embedded_broker(settings.embedded_state_file)
        if url is not None:
            break
        await asyncio.sleep(0.5)
    if url is None:
        raise RuntimeError("the demo's embedded broker did not start")
    broker_pid = int(json.loads(settings.embedded_state_file.read_text())["pid"])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=None)
    await consumer.start()
    try:
        print(
            f"{'minute':>7} {'produced':>10} {'decided':>10} {'gap':>8} {'decided/s':>10} "
            f"{'broker MB':>9} {'broker CPU':>10} {'load':>5}",
            flush=True,
        )
        started = time.monotonic()
        previous_decided, previous_at = 0, started
        previous_cpu = process_usage(broker_pid)[1]
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
            rss_mb, cpu_s = process_usage(broker_pid)
            cpu_share = (cpu_s - previous_cpu) / (now - previous_at)
            previous_cpu = cpu_s
            if warmed_up:  # start-up (broker, topics, the first rebalance) is not the steady state
                rising = rising and decided > previous_decided
                bounded = bounded and produced - decided <= max(1000, produced // 10)
            warmed_up = warmed_up or (decided > 0 and produced - decided <= produced // 10)
            print(
                f"{(now - started) / 60:>7.1f} {produced:>10} {decided:>10} {produced - decided:>8} {rate:>10.1f} "
                f"{rss_mb:>9.0f} {cpu_share:>9.0%} {os.getloadavg()[0]:>5.1f}",
                flush=True,
            )
            previous_decided, previous_at = decided, now
        if show_footprint:
            print(table(await footprint(url), per=produced), flush=True)
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
    parser.add_argument("--rate", type=float, default=DEMO_RATE, help="generator episodes/s (the demo's default: 20)")
    parser.add_argument("--footprint", action="store_true", help="print the broker's topics at the end")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fraudwatch-soak-") as data_dir:
        env = {
            **os.environ,
            "FRAUDWATCH_DATA_DIR": data_dir,
            "FRAUDWATCH_WEB_PORT": str(free_port()),
            "FRAUDWATCH_DASHBOARD_PORT": str(free_port()),
            "FRAUDWATCH_SMTP_PORT": str(free_port()),
        }
        if args.rate != DEMO_RATE:
            linger_ms = round(EMBEDDED_GENERATOR_LINGER_MS * DEMO_RATE / args.rate)
            env.setdefault("FRAUDWATCH_GENERATOR_LINGER_MS", str(linger_ms))
        env = {k: v for k, v in env.items() if k != "FRAUDWATCH_BROKER"}  # the demo's own embedded broker
        os.environ.update({k: v for k, v in env.items() if k.startswith("FRAUDWATCH_")})
        settings = Settings()
        print(
            f"fraudwatch demo --rate {args.rate:g}, generator linger "
            f"{settings.embedded_profile().generator_linger_ms} ms, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        log = (Path(data_dir) / "demo.log").open("ab")
        command = [sys.executable, "-m", "runtime.cli", "demo", "--rate", str(args.rate)]
        demo = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            held = asyncio.run(watch(settings, demo, args.minutes, args.every, args.footprint))
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
