"""The outbox of a batch handler, and a table whose changelog records go out with the batch.

Inside a batch handler (agents.batching), every record the batch yields — validated
transactions, alerts, decisions and the state tables' changelog records — is collected here and
handed to the Kafka producer in one go when the handler returns, instead of travelling one by
one through Faust's send buffer (measured: that buffer drains one record at a time and overflowed
under load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.types import TP, AppT, TableT


@dataclass(frozen=True, slots=True)
class Outbound:
    """A record a batch produces. ``partition`` None = by key (Kafka's default partitioner)."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None
    headers: Mapping[str, bytes] | None = None
    #: Called with the broker's RecordMetadata once the record is stored.
    on_stored: Callable[[Any], None] | None = None


_outbox: ContextVar[list[Outbound] | None] = ContextVar("fraudwatch_outbox", default=None)


@contextmanager
def collecting_outbox() -> Iterator[list[Outbound]]:
    """Collect what ``send_with_batch`` is given in this context, in order."""
    outbox: list[Outbound] = []
    token = _outbox.set(outbox)
    try:
        yield outbox
    finally:
        _outbox.reset(token)


def collecting_batch() -> bool:
    """Whether this runs inside a batch handler, whose records ``send_with_batch`` takes."""
    return _outbox.get() is not None


def send_with_batch(record: Outbound) -> None:
    """Produce ``record`` when the current batch is done (only inside a batch handler)."""
    outbox = _outbox.get()
    if outbox is None:
        raise RuntimeError("send_with_batch outside a batch handler (agents.batching.process_in_batches)")
    outbox.append(record)


class BatchedChangelogTable(faust.Table[bytes, bytes]):
    """A bytes table whose changelog records (writes and deletes), made inside a batch handler, go out with the batch.

    Outside a batch handler (the alert sinks recording what they delivered) it behaves as a normal table.
    The stored offset that lets a restart with local RocksDB skip the changelog is kept as Faust
    keeps it, once the broker has stored the record.
    """

    def on_key_set(self, key: bytes, value: bytes) -> None:
        if _outbox.get() is None:
            return super().on_key_set(key, value)
        partition = self.partition_for_key(key)  # the current event's: keys are co-partitioned
        assert partition is not None  # use_partitioner is off for these tables
        changelog = self.changelog_topic.get_topic_name()
        send_with_batch(Outbound(changelog, key, value, partition, None, self._stored))
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)
        return None

    def on_key_del(self, key: bytes) -> None:
        """A delete's tombstone goes out with the batch too, after the batch's earlier writes of the key."""
        if _outbox.get() is None:
            return super().on_key_del(key)
        partition = self.partition_for_key(key)
        assert partition is not None
        changelog = self.changelog_topic.get_topic_name()
        send_with_batch(Outbound(changelog, key, None, partition, None, self._stored))
        self._maybe_del_key_ttl(key, partition)
        self._sensor_on_del(self, key)
        return None

    def _stored(self, metadata: Any) -> None:
        self.data.set_persisted_offset(TP(metadata.topic, metadata.partition), metadata.offset)


def stored_value(table: TableT[bytes, bytes], key: bytes) -> bytes | None:
    """The value stored under ``key``, or None, in one store read.

    ``table.get(key)`` reads the store twice for a key that is there (Faust's Table defines
    ``__missing__``, so its ``__getitem__`` asks ``key in data`` before ``data[key]``); the worker
    reads every customer's state and reference and every merchant's and terminal's risk per batch.
    """
    try:
        return table.data[key]
    except KeyError:
        return None


def batched_table(app: AppT, name: str, **options: Any) -> BatchedChangelogTable:
    """Register a BatchedChangelogTable on ``app``, as ``app.Table`` registers a normal one."""
    table = BatchedChangelogTable(app, name=name, beacon=app.tables.beacon, **options)
    return cast(BatchedChangelogTable, app.tables.add(table))
