"""The `fraudwatch` entry point finds the subcommand with Faust's own click parser."""

from __future__ import annotations

import pytest

from runtime.cli import OFFLINE_COMMANDS, command_name


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["fraudwatch", "worker", "-l", "info"], "worker"),
        (["fraudwatch", "--datadir", "/tmp/x", "worker"], "worker"),  # an option's value is not a command
        (["fraudwatch", "-A", "agents.app", "generate", "--count", "5"], "generate"),
        (["fraudwatch", "backtest", "tx.jsonl", "--workers", "2"], "backtest"),
        (["fraudwatch", "--help"], None),
        (["fraudwatch", "--version"], None),
        (["fraudwatch"], None),
    ],
)
def test_the_subcommand_is_parsed_by_click(argv: list[str], command: str | None) -> None:
    assert command_name(argv) == command


def test_offline_commands_start_no_broker() -> None:
    assert {"backtest", "schemas"} <= OFFLINE_COMMANDS
