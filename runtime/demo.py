"""`fraudwatch demo`: the whole system on one machine, on embedded defaults.

Runs (as child processes, beside the embedded broker the CLI started) one worker and the
generator, then prints the running counts from the metrics topic until interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import Settings
from detection.metrics import (
    TRANSACTIONS_INVALID,
    TRANSACTIONS_VALID,
    Family,
    MetricsTotals,
    SinkEvent,
    sink_counter,
)
from runtime.metrics_feed import metrics_snapshots


class Demo:
    def __init__(self, settings: Settings, broker_url: str, rate: float) -> None:
        self.settings = settings
        self.broker_url = broker_url
        self.rate = rate
        self.children: list[subprocess.Popen[bytes]] = []
        self.log_dir = settings.data_dir / "logs"

    @property
    def mailbox(self) -> Path:
        return self.settings.data_dir / "mailbox"

    def _spawn(self, name: str, *args: str) -> None:
        self._spawn_module(name, "runtime.cli", *args)

    def _spawn_module(self, name: str, module: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        command = [sys.executable, "-m", module, *args]
        self.children.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()))

    def start(self) -> None:
        s = self.settings
        self._spawn_module(
            "smtp-sink",
            "runtime.smtp_sink",
            "--host",
            s.smtp_host,
            "--port",
            str(s.smtp_port),
            "--mailbox",
            str(self.mailbox),
        )
        self._spawn("worker", "worker", "--loglevel", "warn")
        self._spawn("dashboard", "dashboard")
        self._spawn("generator", "generate", "--rate", str(self.rate))

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                child.kill()

    def banner(self) -> str:
        s = self.settings
        logs = Path(self.log_dir).resolve()
        return "\n".join(
            [
                "fraudwatch demo is running. Ctrl-C stops everything.",
                f"  broker       {self.broker_url}",
                f"  topics       {s.topic_raw_transactions} -> {s.topic_validated_transactions} | {s.topic_dead_letter}"
                f" -> {s.topic_alerts}",
                f"  dashboard    http://{s.dashboard_host}:{s.dashboard_port}/dashboard",
                f"  read API     http://{s.web_host}:{s.web_port}/api/alerts",
                f"  alert emails {self.mailbox.resolve()}/ (one .eml per message, from the SMTP sink on"
                f" {s.smtp_host}:{s.smtp_port})",
                f"  logs         {logs}/",
                "  counts below come from the metrics topic, summed over workers:",
            ]
        )

    async def print_counts(self, every_s: float = 2.0) -> None:
        totals = MetricsTotals()
        last_print = 0.0
        async for snapshot in metrics_snapshots(self.broker_url, self.settings.topic_metrics):
            totals.add(snapshot)
            now = time.monotonic()
            if now - last_print >= every_s:
                last_print = now
                print(format_counts(totals), flush=True)


def format_counts(totals: MetricsTotals) -> str:
    dead = totals.family(Family.DEAD_LETTER)
    alerts = totals.family(Family.ALERTS_SEVERITY)
    reasons = ", ".join(f"{k}={int(v)}" for k, v in sorted(dead.items())) or "-"
    severities = ", ".join(f"{k}={int(v)}" for k, v in sorted(alerts.items())) or "-"
    return (
        f"validated={int(totals.get(TRANSACTIONS_VALID))} "
        f"dead-lettered={int(totals.get(TRANSACTIONS_INVALID))} ({reasons}) "
        f"alerts={int(sum(alerts.values()))} ({severities}) "
        f"emails={int(totals.get(sink_counter('email', SinkEvent.SENT)))} "
        f"digests={int(totals.get(sink_counter('email', SinkEvent.DIGESTS_SENT)))}"
    )
