"""Progress bars (tqdm) draw on a terminal and stay silent in pipes and CI logs."""

from __future__ import annotations

import io

from producers.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_the_count() -> None:
    terminal = Terminal()
    progress = Progress("generate", 10, file=terminal)
    for _ in range(10):
        progress.advance()
    progress.count = 10
    progress.close()
    assert "generate" in terminal.getvalue() and "100%" in terminal.getvalue()


def test_a_pipe_gets_nothing() -> None:
    pipe = io.StringIO()
    progress = Progress("replay", 5, file=pipe)
    progress.advance(5)
    progress.close()
    assert pipe.getvalue() == ""
