"""Retention sweeps in the worker: expired entries are deleted through the table, a slice per batch.

What is expired is decided in tables.retention (event time per partition, the table's horizon).
This is the shell around it: read a slice of one partition's RocksDB database from a cursor, and
delete the expired keys with ``del table[key]``, so the changelog gets a tombstone and a restore
(or a standby) forgets them too.

A sweep runs inside the agent that writes the table, while it handles events of the partition it
sweeps: only the worker that owns a partition sweeps it (a standby never handles its events),
the tombstones go to that partition's changelog in order with the agent's own writes (in a batch
handler, with the batch: tables.batched), and the work is bounded per batch. Nothing runs on a
timer: with event time, nothing expires while a partition receives nothing.

Only RocksDB stores are swept (the production store keeps one database per partition); the
in-memory store of unit tests has no per-partition layout to walk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TableT

from tables.retention import PartitionClocks, Retention, scan, scan_budget

logger = logging.getLogger(__name__)


class TableSweeper:
    """Deletes a table's expired entries, a bounded slice of one partition per call."""

    def __init__(self, table: TableT[bytes, bytes], retention: Retention, min_scan: int) -> None:
        self.table = table
        self.retention = retention
        self.min_scan = min_scan
        self.clocks = PartitionClocks()
        self._cursors: dict[int, bytes | None] = {}
        self.expired_total = 0

    def observe(self, partition: int, event_time: float) -> None:
        """An event of ``event_time`` was handled on ``partition`` (its clock moves forward, never back)."""
        self.clocks.observe(partition, event_time)

    def sweep(self, partition: int, written: int = 0) -> int:
        """Delete the expired entries of the next slice of ``partition``; returns how many.

        Call it while an event of ``partition`` is the current one (the agent handling it, or
        agents.batching.in_partition_of): the table writes a delete to the current event's
        changelog partition. ``written`` = entries the caller's batch wrote to the partition.
        """
        store = self.table.data
        if not isinstance(store, RocksDBStore):
            return 0
        cursor = self._cursors.get(partition)
        found = scan(
            _partition_entries(store, partition, cursor),
            self.retention,
            self.clocks.newest(partition),
            scan_budget(self.min_scan, written),
        )
        self._cursors[partition] = found.next_key
        for key in found.expired:
            # Faust's store deletes a key it has not indexed from every partition database it holds.
            store._key_index[key] = partition
            del self.table[key]
        if found.expired:
            self.expired_total += len(found.expired)
            logger.debug("%s[%d]: %d expired entries deleted", self.table.name, partition, len(found.expired))
        return len(found.expired)


def _partition_entries(store: RocksDBStore, partition: int, cursor: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    """The partition database's entries in key order from ``cursor``, without Faust's stored offset."""
    db = store._db_for_partition(partition)
    for key, value in db.items(from_key=cursor):
        if key != store.offset_key:
            yield key, value
