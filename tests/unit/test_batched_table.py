"""A batched table's changelog records go out with the batch, writes and deletes in the order made."""

from __future__ import annotations

import faust
from faust.types.tuples import Message

from agents.batching import in_partition_of
from tables.batched import batched_table, collecting_outbox


def _event(app: faust.App, partition: int) -> faust.Event:
    message = Message("source", partition, 7, 0.0, 0, {}, b"k", b"v", None)
    return faust.Event(app, b"k", b"v", {}, message)


def test_a_key_set_then_deleted_in_one_batch_leaves_a_tombstone_last() -> None:
    app = faust.App("batched-table-test", store="memory://")
    table = batched_table(app, "cases", key_type=bytes, value_type=bytes, partitions=4)
    with collecting_outbox() as outbox, in_partition_of(_event(app, 2)):
        table[b"customer-1"] = b"open"
        del table[b"customer-1"]
    assert [(r.key, r.value, r.partition) for r in outbox] == [(b"customer-1", b"open", 2), (b"customer-1", None, 2)]
    assert {r.topic for r in outbox} == {table.changelog_topic.get_topic_name()}
    assert b"customer-1" not in table
