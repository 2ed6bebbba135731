"""`fraudwatch backtest`'s options for the field's protocol, and how a failed run ends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, option

#: What the command prints when it is done (the whole report is in the --report file).
SUMMARY_KEYS = (
    "transactions",
    "alerts",
    "precision",
    "recall",
    "f1",
    "auc_roc",
    "average_precision",
    "recall_at_precision_0.85",
    "handbook_card_precision_at_100",
    "rejected",
    "throughput_tx_per_s",
)
#: Exit status of a run that failed part-way (click uses 2 for usage errors).
FAILED = 3


class UtcDateTime(click.DateTime):
    """An ISO date or date-time; without a zone it is UTC."""

    name = "iso-datetime"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not an ISO date or date-time (e.g. 2018-09-01 or 2018-09-01T00:00:00Z)")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


BACKTEST_OPTIONS = [
    option(
        "--test-start",
        type=UtcDateTime(),
        default=None,
        help="The report covers transactions from here (UTC unless a zone is given); earlier ones still build "
        "state and their feedback still takes effect.",
    ),
    option("--test-end", type=UtcDateTime(), default=None, help="... up to (not including) this time."),
    option(
        "--decisions",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write one JSON line per transaction of the test period: id, customer, timestamp, score, alert, "
        "reason codes, model version, label.",
    ),
]


@contextmanager
def one_line_failure(command: AppCommand) -> Iterator[None]:
    """A failed shard ends the command with one line on stderr and a non-zero exit, not a traceback."""
    from runtime.backtest import ShardFailedError

    try:
        yield
    except ShardFailedError as exc:
        print(f"fraudwatch backtest: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(FAILED) from None
