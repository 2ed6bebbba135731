from __future__ import annotations

import asyncio
from typing import cast

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.types import TP

from agents.app import app
from agents.batching import _on_stored, withhold_acks
from agents.transport import DeliveryGuard, UndeliveredRecordsError, delivery_guard
from tables.batched import Outbound


def test_a_failed_delivery_blocks_every_later_commit() -> None:
    guard = DeliveryGuard()
    guard.check()  # nothing failed: commits go ahead
    guard.record_failure(TimeoutError("broker gone"))
    with pytest.raises(UndeliveredRecordsError, match="broker gone"):
        guard.check()


async def test_a_stored_record_reports_its_offset_and_a_failed_one_trips_the_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = DeliveryGuard()
    monkeypatch.setattr("agents.batching.delivery_guard", guard)
    stored_at: list[int] = []
    record = Outbound("t", b"k", b"v", on_stored=lambda metadata: stored_at.append(metadata))

    ok: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    ok.set_result(42)
    _on_stored(record, ok)
    assert stored_at == [42] and guard.failure is None

    failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    failed.set_exception(ConnectionError("refused"))
    _on_stored(record, failed)
    assert stored_at == [42] and isinstance(guard.failure, ConnectionError)
    assert delivery_guard.failure is None  # the worker's own guard was not touched


def test_a_batch_cancelled_half_done_is_never_counted_as_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """take_events acks a batch when its generator closes, finished or not; a withheld one stays uncommitted."""
    from faust.types.tuples import ConsumerMessage

    app.finalize()
    consumer = cast(Consumer, app.consumer)
    topic = "batching-test.raw"
    monkeypatch.setattr(app.topics, "_acking_topics", {topic})
    finished, cancelled = (
        faust.Event(app, b"k", b"v", None, ConsumerMessage(topic, 0, offset, 0.0, 0, None, b"k", b"v", None))
        for offset in (0, 1)
    )
    withhold_acks([cancelled])
    for event in (finished, cancelled):  # what take_events' cleanup does with every event it took
        event.ack()
    assert consumer._acked[TP(topic, 0)] == [0]  # the next commit ends before the cancelled batch
