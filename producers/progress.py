"""A small terminal progress line (count, rate, and a bar when the total is known)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, stream: TextIO = sys.stderr, every_s: float = 0.5) -> None:
        self.label, self.total, self.stream, self.every_s = label, total, stream, every_s
        self.count = 0
        self.started = self._last = time.monotonic()
        self.enabled = stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.enabled and now - self._last >= self.every_s:
            self._last = now
            self._draw(now)

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float) -> None:
        rate = self.count / max(now - self.started, 1e-9)
        if self.total:
            done = min(1.0, self.count / self.total)
            bar = "#" * int(done * 30)
            line = f"\r{self.label} [{bar:<30}] {self.count}/{self.total} {rate:,.0f}/s"
        else:
            line = f"\r{self.label} {self.count} {rate:,.0f}/s"
        self.stream.write(line)
        self.stream.flush()
