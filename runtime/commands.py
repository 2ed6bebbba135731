"""The project's commands beside Faust's own (``fraudwatch --help`` lists them all)."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from faust.cli import AppCommand, option

from agents.app import app, broker_url
from config import get_settings
from detection.sources import REFERENCE_SOURCES
from producers.generate import FILES_START, produce_live, write_files
from producers.replay import replay_file
from runtime.backtest_commands import BACKTEST_OPTIONS, SUMMARY_KEYS, one_line_failure
from runtime.handbook_commands import DEFAULT_PROFILE, HANDBOOK_OPTIONS, generate_handbook_files
from runtime.schemas import write_schemas

settings = get_settings()
#: Live generator default: episodes per second, so the demo shows something every second.
LIVE_RATE = 20.0


@app.command(
    option(
        "--rate",
        type=float,
        default=None,
        help="Episodes per second; a fraud episode may hold several transactions. Default: 20 live (time "
        "compressed for the demo); with --output-dir, the customers' own daily habits (realistic time).",
    ),
    option("--count", type=int, default=0, show_default=True, help="Transactions to produce; 0 runs forever."),
    option("--seed", type=int, default=42, show_default=True, help="Same seed, same data."),
    option("--customers", type=int, default=None, help="Default: 10 000; 5 000 with a Handbook profile."),
    option("--merchants", type=int, default=300, show_default=True),
    option("--fraud-rate", type=float, default=0.01, show_default=True, help="Share of episodes that are fraud."),
    option(
        "--invalid-rate",
        type=float,
        default=0.005,
        show_default=True,
        help="Share of records deliberately broken (live mode), for data-quality monitoring.",
    ),
    option(
        "--output-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Write labelled JSONL files (transactions, reference data, feedback) instead of producing.",
    ),
    *HANDBOOK_OPTIONS,
)
async def generate(
    self: AppCommand,
    rate: float | None,
    count: int,
    seed: int,
    customers: int | None,
    merchants: int,
    fraud_rate: float,
    invalid_rate: float,
    output_dir: Path | None,
    profile: str,
    feedback_with_terminal: bool,
    **handbook_parameters: Any,
) -> None:
    """Produce synthetic customers, reference data and labelled transactions."""
    if profile != DEFAULT_PROFILE:
        if output_dir is None:
            raise click.UsageError(f"--profile {profile} writes files: give --output-dir")
        written = generate_handbook_files(
            output_dir,
            profile,
            seed=seed,
            customers=customers,
            feedback_with_terminal=feedback_with_terminal,
            **handbook_parameters,
        )
        self.say(json.dumps(written, indent=2))
        return
    customers = customers or 10_000
    if output_dir is not None:
        written = write_files(
            output_dir,
            count=count or 100_000,
            rate=rate,
            seed=seed,
            customers=customers,
            merchants=merchants,
            fraud_rate=fraud_rate,
            start=FILES_START,
        )
        self.say(json.dumps(written, indent=2))
        return
    sent = await produce_live(
        settings,
        broker_url(settings),
        rate=rate or LIVE_RATE,
        count=count,
        seed=seed,
        customers=customers,
        merchants=merchants,
        fraud_rate=fraud_rate,
        invalid_rate=invalid_rate,
    )
    self.say(f"sent {sent} transactions to {settings.topic_raw_transactions}")


@app.command(
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    option("--rate", type=float, default=0.0, show_default=True, help="Records per second; 0 = as fast as possible."),
)
async def replay(self: AppCommand, file: Path, rate: float) -> None:
    """Stream a CSV or JSONL file of transactions into the raw topic."""
    sent = await replay_file(file, broker_url(settings), settings.topic_raw_transactions, rate)
    self.say(f"sent {sent} records from {file} to {settings.topic_raw_transactions}")


@app.command()
async def broker(self: AppCommand) -> None:
    """Run the embedded broker in the foreground (with the topics created) until interrupted."""
    self.say(f"broker at {broker_url(settings)}; Ctrl-C stops it")
    await asyncio.Event().wait()


@app.command(
    option(
        "--output-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("docs/schemas"),
        show_default=True,
    )
)
async def schemas(self: AppCommand, output_dir: Path) -> None:
    """Write the JSON Schema of every topic's value."""
    for path in write_schemas(output_dir):
        self.say(str(path))


@app.command(option("--rate", type=float, default=20.0, show_default=True, help="Generator episodes per second."))
async def demo(self: AppCommand, rate: float) -> None:
    """Run a worker and the generator beside the embedded broker, and print live counts."""
    from runtime.demo import Demo

    runner = Demo(settings, broker_url(settings), rate)
    runner.start()
    self.say(runner.banner())
    # Faust's command runner only reports SIGINT; stop in order ourselves.
    counting = asyncio.ensure_future(runner.print_counts())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, counting.cancel)
    try:
        await counting
    except asyncio.CancelledError:
        self.say("stopping ...")
    finally:
        runner.stop()


@app.command(
    click.argument("transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    *(
        option(
            source.option,
            source.name,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help=f"JSONL of {source.description} ({source.model.__name__}).",
        )
        for source in REFERENCE_SOURCES
    ),
    option("--feedback", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None),
    option(
        "--rules",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Rules file (default: the one in config/, with FRAUDWATCH_RULE_* overrides).",
    ),
    option("--report", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write JSON."),
    option("--workers", type=int, default=None, help="Processes (default: one per core); customers are sharded."),
    *BACKTEST_OPTIONS,
    option(
        "--rules-only",
        is_flag=True,
        default=False,
        help="Do not learn: no model is trained from the feedback (default: retrain daily, as live).",
    ),
)
async def backtest(
    self: AppCommand,
    transactions: Path,
    feedback: Path | None,
    rules: Path | None,
    report: Path,
    workers: int | None,
    test_start: datetime | None,
    test_end: datetime | None,
    decisions: Path | None,
    rules_only: bool,
    **reference_files: Path | None,
) -> None:
    """Run the detector over a file of transactions, learning from its feedback as live, and report quality."""
    from runtime.backtest import run_backtest, write_report

    with one_line_failure(self):
        result = run_backtest(
            transactions,
            feedback=feedback,
            rules=rules,
            workers=workers,
            test_start=test_start,
            test_end=test_end,
            decisions=decisions,
            learn=not rules_only,
            reference=reference_files,
        )
    write_report(result, report)
    self.say(json.dumps({k: result[k] for k in SUMMARY_KEYS}))


@app.command()
async def dashboard(self: AppCommand) -> None:
    """Serve the live dashboard (Panel/Bokeh, pushed over its websocket) until interrupted."""
    from ui.serve import serve_dashboard

    server = serve_dashboard(settings)
    self.say(f"dashboard on http://{settings.dashboard_host}:{settings.dashboard_port}/dashboard")
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    server.stop()
