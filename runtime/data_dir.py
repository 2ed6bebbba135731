"""Check the data dir before anything starts: an unwritable one is a clear message and exit 1, not a traceback."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_writable(directory: Path) -> None:
    """Create ``directory`` (with parents: Faust does not) and prove a file can be written there.

    Raises SystemExit with a message that says what is wrong and what to do.
    """
    probe = directory / f".write-probe-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"fraudwatch")
        probe.unlink()
    except OSError as exc:
        raise SystemExit(
            f"fraudwatch: the data dir {directory} is not writable ({exc.strerror or exc}): "
            "fix its permissions or free space, or set FRAUDWATCH_DATA_DIR to a writable directory"
        ) from exc
