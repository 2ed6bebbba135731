"""Progress bars for the terminal commands (generate, replay, backtest), drawn by tqdm.

Only on a terminal (tqdm's disable=None): piped output and CI logs stay clean. ``advance`` and
``count`` keep the commands' vocabulary; everything else is tqdm's.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm


class Progress(tqdm):  # type: ignore[type-arg]
    monitor_interval = 0  # no monitor thread: the backtest forks its shards

    def __init__(self, label: str, total: int | None = None, file: TextIO | None = None, **options: Any) -> None:
        super().__init__(
            total=total,
            desc=label,
            unit=" records",
            unit_scale=True,
            mininterval=0.5,
            file=file or sys.stderr,
            disable=None,
            **options,
        )

    def advance(self, n: int = 1) -> None:
        self.update(n)

    @property
    def count(self) -> int:
        return int(self.n)

    @count.setter
    def count(self, value: int) -> None:
        """Jump to an absolute count (the backtest's shards report a shared counter)."""
        self.update(value - self.n)
