from __future__ import annotations

import asyncio
from typing import cast

import faust
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

from agents.app import app
from agents.batching import withhold_acks
from agents.record_batches import _on_batch_stored
from agents.transport import DeliveryGuard, UndeliveredRecordsError, delivery_guard


def test_a_failed_delivery_blocks_every_later_commit() -> None:
    guard = DeliveryGuard()
    guard.check()  # nothing failed: commits go ahead
    guard.record_failure(TimeoutError("broker gone"))
    with pytest.raises(UndeliveredRecordsError, match="broker gone"):
        guard.check()


async def test_a_stored_batch_reports_each_callbacks_newest_offset_and_a_failed_one_trips_the_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = DeliveryGuard()
    monkeypatch.setattr("agents.record_batches.delivery_guard", guard)
    stored_at: list[int] = []

    def remember(metadata: RecordMetadata) -> None:
        stored_at.append(metadata.offset)

    tp = TopicPartition("t", 0)
    ok: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
    ok.set_result(RecordMetadata("t", 0, tp, 40, -1, 0, None))  # the batch's base offset
    _on_batch_stored({remember: 2}, ok)  # the newest record asking for it is the batch's third
    assert stored_at == [42] and guard.failure is None

    failed: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
    failed.set_exception(ConnectionError("refused"))
    _on_batch_stored({remember: 0}, failed)
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
