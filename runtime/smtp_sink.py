"""A real SMTP server (aiosmtpd) that files every message it accepts into a mailbox folder.

The local default for `make demo` (compose uses Mailpit instead):

    python -m runtime.smtp_sink --port 8025 --mailbox .fraudwatch/mailbox
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailboxHandler:
    """Writes each accepted message to ``<mailbox>/<n>.eml``."""

    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        mailbox.mkdir(parents=True, exist_ok=True)
        start = max((int(p.stem) for p in mailbox.glob("*.eml") if p.stem.isdigit()), default=0) + 1
        self._numbers = itertools.count(start)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self._lock:
            path = self.mailbox / f"{next(self._numbers):06d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def serve(host: str, port: int, mailbox: Path) -> Controller:
    controller = Controller(MailboxHandler(mailbox), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mailbox", type=Path, default=Path(".fraudwatch/mailbox"))
    args = parser.parse_args()
    controller = serve(args.host, args.port, args.mailbox)
    print(f"SMTP sink on {args.host}:{args.port}, filing mail into {args.mailbox.resolve()}/", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
