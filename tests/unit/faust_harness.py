"""Run fraudwatch agents in Faust's test_context, capturing what they send to topics."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from agents.app import app
from tables.batched import Outbound


@dataclass
class SentRecord:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


@dataclass
class StoredAt:
    """What the broker answers for a stored record (the fields of RecordMetadata agents use)."""

    topic: str
    partition: int
    offset: int


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

        async def producer_send(
            self: Any, topic: str, key: bytes | None, value: bytes, partition: int | None, _: Any, headers: Any
        ) -> asyncio.Future[StoredAt]:
            stored: asyncio.Future[StoredAt] = asyncio.get_running_loop().create_future()
            stored.set_result(capture.record(topic, key, value, partition, headers))
            return stored

        async def produce(records: Sequence[Outbound]) -> None:
            # Batched agents hand a batch's records to the producer together (agents.batching.produce).
            for record in records:
                stored = capture.record(record.topic, record.key, record.value, record.partition, record.headers)
                if record.on_stored is not None:
                    record.on_stored(stored)

        monkeypatch.setattr(Topic, "send", send)
        monkeypatch.setattr(Topic, "send_soon", send_soon)
        monkeypatch.setattr(type(app.producer), "send", producer_send)
        monkeypatch.setattr("agents.batching.produce", produce)

    def record(self, topic: str, key: bytes | None, value: Any, partition: int | None, headers: Any) -> StoredAt:
        self.sent[topic].append(SentRecord(key, value, dict(headers or {})))
        return StoredAt(topic, partition or 0, len(self.sent[topic]) - 1)


@contextmanager
def capturing(monkeypatch: pytest.MonkeyPatch) -> Iterator[TopicCapture]:
    app.finalize()
    app.flow_control.resume()  # without it, test_context's put() waits forever
    capture = TopicCapture()
    capture.install(monkeypatch)
    yield capture


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a batching agent to take what was put: put() returns when a record enters the stream."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout_s} s")
        await asyncio.sleep(0.01)
