"""Run fraudwatch agents in Faust's test_context, capturing what they send to topics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from agents.app import app


@dataclass
class SentRecord:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class TopicCapture:
    """Replaces Topic.send so agents' outbound records land in memory, by topic name."""

    def __init__(self) -> None:
        self.sent: defaultdict[str, list[SentRecord]] = defaultdict(list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from faust.topics import Topic

        capture = self

        async def send(self: Topic, *, key: Any = None, value: Any = None, headers: Any = None, **_: Any) -> None:
            for name in self.topics:
                capture.sent[name].append(SentRecord(key, value, dict(headers or {})))

        original_send_soon = Topic.send_soon

        def send_soon(self: Topic, *, key: Any = None, value: Any = None, headers: Any = None, **kw: Any) -> Any:
            for name in self.topics:  # tables' changelog writes; Faust needs the future it returns
                capture.sent[name].append(SentRecord(key, value, dict(headers or {})))
            return original_send_soon(self, key=key, value=value, headers=headers, **kw)

        monkeypatch.setattr(Topic, "send", send)
        monkeypatch.setattr(Topic, "send_soon", send_soon)


@contextmanager
def capturing(monkeypatch: pytest.MonkeyPatch) -> Iterator[TopicCapture]:
    app.finalize()
    app.flow_control.resume()  # without it, test_context's put() waits forever
    capture = TopicCapture()
    capture.install(monkeypatch)
    yield capture
