"""The ``fraudwatch`` command: Faust's own CLI (so ``fraudwatch worker`` is a normal Faust
worker) with the project's commands beside it.

With FRAUDWATCH_BROKER=embedded (the default) it starts the bundled broker on a free
loopback port unless another fraudwatch process already runs one, creates the topics, and
stops the broker it started on exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import warnings

import click

from config import Settings, get_settings
from config.topics import topic_specs
from runtime.broker import EmbeddedBroker, running_embedded_broker
from runtime.data_dir import DataDirLock, ensure_writable, forget_table_state
from runtime.topics import PartitionMismatchError, ensure_topics

logger = logging.getLogger(__name__)

#: Commands that never talk to a broker, so none is started for them.
OFFLINE_COMMANDS = frozenset({"backtest", "schemas"})


def command_name(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names, parsed by Faust's own click group (so an option's value, as in
    ``--datadir DIR worker``, is never taken for a command); None for ``--help``, ``--version`` or none."""
    from faust.cli.faust import cli

    try:
        context = cli.make_context(os.path.basename(argv[0]), list(argv[1:]), resilient_parsing=True)
    except click.ClickException:
        return None  # Faust's own run reports the usage error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # click 8.2 folds protected_args into args
        rest = [*context.protected_args, *context.args]
    return rest[0] if rest else None


def hand_down_broker(url: str, settings: Settings) -> Settings:
    """Make the resolved broker URL the one every later reader of the settings sees: this process's
    app, agents and commands, and the child processes it starts (they inherit the environment), so
    nothing below the entry point needs to know how an embedded broker is found."""
    os.environ["FRAUDWATCH_BROKER"] = url
    if settings.uses_embedded_profile:
        os.environ["FRAUDWATCH_BROKER_PROFILE"] = "embedded"  # the URL no longer says 'embedded'
    get_settings.cache_clear()
    return get_settings()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    settings = get_settings()
    started: EmbeddedBroker | None = None
    worker_dir = settings.data_dir / "worker"
    ensure_writable(worker_dir)
    command = command_name(argv)
    if command == "worker":
        DataDirLock(worker_dir).acquire()  # released by the OS when the process ends
    needs_broker = command not in OFFLINE_COMMANDS and command is not None
    if needs_broker and settings.is_embedded:
        url = running_embedded_broker(settings.embedded_state_file)
        if url is None:
            started = EmbeddedBroker(state_file=settings.embedded_state_file).start()
            url = started.url
            print(f"fraudwatch: embedded broker on {started.bootstrap}", file=sys.stderr)
            if forget_table_state(worker_dir, lock_held=command == "worker"):
                print(
                    f"fraudwatch: a new embedded broker has no changelogs: cleared the tables in {worker_dir}",
                    file=sys.stderr,
                )
        settings = hand_down_broker(url, settings)
    try:
        if needs_broker:
            asyncio.run(ensure_topics(settings.broker, topic_specs(settings), settings.topic_retention_ms))
        # Registers the project's commands on the app.
        import runtime.commands
        import runtime.ops_commands
        import runtime.train_commands  # noqa: F401
        from agents.app import app
        from runtime import topics_command  # noqa: F401  (registers `fraudwatch topics`)

        sys.argv = argv
        app.main()
    except PartitionMismatchError as exc:
        print(f"fraudwatch: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    finally:
        if started is not None:
            started.stop()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
