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

from config import get_settings
from config.topics import topic_specs
from runtime.broker import EmbeddedBroker, running_embedded_broker
from runtime.topics import ensure_topics

logger = logging.getLogger(__name__)

#: Commands that never talk to a broker, so none is started for them.
OFFLINE_COMMANDS = frozenset({"backtest", "schemas", "--help", "-h", "--version"})


def _command(argv: list[str]) -> str | None:
    return next((arg for arg in argv[1:] if not arg.startswith("-") or arg in OFFLINE_COMMANDS), None)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    settings = get_settings()
    started: EmbeddedBroker | None = None
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)  # Faust does not create parents
    command = _command(argv)
    if settings.is_embedded and command not in OFFLINE_COMMANDS and command is not None:
        url = running_embedded_broker(settings.embedded_state_file)
        if url is None:
            started = EmbeddedBroker(state_file=settings.embedded_state_file).start()
            url = started.url
            print(f"fraudwatch: embedded broker on {started.bootstrap}", file=sys.stderr)
        asyncio.run(ensure_topics(url, topic_specs(settings), settings.topic_retention_ms))
    elif not settings.is_embedded and command not in OFFLINE_COMMANDS and command is not None:
        asyncio.run(ensure_topics(settings.broker, topic_specs(settings), settings.topic_retention_ms))
    try:
        import runtime.commands
        import runtime.ops_commands  # noqa: F401  (rules, lists, audit, cases)
        from agents.app import app

        sys.argv = argv
        app.main()
    finally:
        if started is not None:
            started.stop()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
