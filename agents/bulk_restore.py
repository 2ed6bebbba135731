"""Table recovery that reads the changelogs in bulk before Faust's own, record-by-record, loop.

Faust restores a table one changelog record at a time: each record crosses from the consumer
thread through the conductor (a ``wait_first`` with two new tasks per message), the changelog
queue and the recovery loop. Measured on the batched worker: ~1 150 records/s, so 100 000
customers (200 000 records in two tables) took 174 s to restore and 300 000 did not finish in
600 s, while a plain consumer reads the same kind of records from the same broker at
23 000-53 000/s.

So, once Faust has worked out where each active changelog partition must be read from (the
offset stored in the local RocksDB, or the log start) and up to where (its high-water mark, the
true end on the embedded broker: agents.transport), a consumer of our own reads that range in
large fetches and writes it to the table's store in one write batch per partition and fetch,
the stored offset in the same batch (tables.changelog_writes), so it advances with the data.
Faust's loop then starts from the offsets reached and finds nothing left, or only what the bulk
read did not finish (it stops when a partition makes no progress for ``stall_s``): the bulk read
never has to be complete to be safe. Standby partitions keep Faust's loop; only tables on a
RocksDB store are read here (a store that keeps the records' raw bytes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import server_list
from faust.types import TP, ConsumerT

from tables.changelog_writes import ChangelogWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkRestoreOptions:
    """How the bulk read fetches: per partition and fetch, and how long it waits without progress.

    The fetch wait is long on purpose, whatever the worker's own: a broker answers a fetch as soon as
    it has data, except the embedded one, which holds it for the whole wait and then answers with
    less (measured, 200 000 records of 1.2 kB in 4 partitions: 7 000/s with 5 ms, 61 000-76 000/s
    with 100-500 ms).
    """

    fetch_bytes: int = 4 * 1024 * 1024
    max_records: int = 10_000
    fetch_max_wait_ms: int = 500
    #: aiokafka sends no fetch while any partition still holds fetched records, for up to its prefetch
    #: backoff (100 ms); 0 lets the broker read the next records of drained partitions while this one
    #: writes (measured, 600 000 records read alone: 11.9 s with 100 ms, 9.0 s with 0, same run).
    prefetch_backoff_ms: int = 0
    stall_s: float = 10.0


@dataclass
class RestoreTimings:
    """Where a bulk read's time went: waiting on ``getmany`` (the broker's answers and aiokafka's decoding
    of them) and applying the records to the stores."""

    fetch_s: float = 0.0
    apply_s: float = 0.0


#: Writes one partition's records (in offset order) to its table; returns nothing.
Apply = Callable[[TP, Sequence[ConsumerRecord[bytes, bytes]]], None]


async def read_changelogs(
    consumer: AIOKafkaConsumer,
    starts: MutableMapping[TP, int],
    ends: Mapping[TP, int],
    apply: Apply,
    options: BulkRestoreOptions,
    timings: RestoreTimings | None = None,
) -> int:
    """Read each partition from ``starts[tp] + 1`` at least through ``ends[tp]`` and ``apply`` it; returns
    records applied.

    Offsets follow Faust's recovery: ``starts[tp]`` is the last offset already applied (-1 for
    none), ``ends[tp]`` the last offset to apply. ``starts`` is moved forward after every write,
    so whatever happens it says what is stored. A partition is done when the consumer's position
    passes its end (compacted gaps and transaction markers count as read). Fetches are applied
    whole, even past the end (what getmany still holds of the one that passed it included): an end
    the embedded broker reported short (its last batch's base offset, when the end-offset probe
    timed out on a large log) then still brings the whole last batch. Reading stops early if no
    partition made progress for ``options.stall_s``.
    """
    timings = timings if timings is not None else RestoreTimings()
    pending = {tp: TopicPartition(tp.topic, tp.partition) for tp, end in ends.items() if end > starts[tp]}
    if not pending:
        return 0
    consumer.assign(list(pending.values()))
    for tp, kafka_tp in pending.items():
        consumer.seek(kafka_tp, starts[tp] + 1)
    applied = 0
    progress_at = time.monotonic()

    def apply_fetched(fetched: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        nonlocal applied, progress_at
        for kafka_tp, records in fetched.items():
            tp = TP(kafka_tp.topic, kafka_tp.partition)
            if tp in pending and records:
                apply(tp, records)  # past the end is still this table's log, and is applied
                starts[tp] = records[-1].offset
                applied += len(records)
                progress_at = time.monotonic()

    while pending:
        began = time.perf_counter()
        fetched = await consumer.getmany(*pending.values(), timeout_ms=200, max_records=options.max_records)
        fetched_at = time.perf_counter()
        timings.fetch_s += fetched_at - began
        apply_fetched(fetched)
        timings.apply_s += time.perf_counter() - fetched_at
        for tp, kafka_tp in list(pending.items()):
            if await consumer.position(kafka_tp) > ends[tp]:
                # getmany hands a fetch out max_records at a time: the rest of the one that passed the end
                # is applied too, so a short end still brings its whole last batch.
                while rest := await consumer.getmany(kafka_tp, timeout_ms=0, max_records=options.max_records):
                    apply_fetched(rest)
                starts[tp] = max(starts[tp], ends[tp])
                consumer.pause(kafka_tp)
                del pending[tp]
        if pending and time.monotonic() - progress_at > options.stall_s:
            logger.warning("bulk restore made no progress for %.0f s on %s", options.stall_s, sorted(pending))
            break
    return applied


class BulkRecovery(Recovery):
    """Faust's Recovery, with the active changelog partitions of RocksDB tables read in bulk first
    (when the app's ``bulk_restore`` holds options; None = Faust's loop alone)."""

    async def _wait(self, coro: Any, timeout: Any = None) -> None:  # noqa: ASYNC109 (Faust's signature)
        """Faust bounds each recovery step by ``broker_request_timeout`` (90 s) and, when one outlasts it, ends
        recovery for good as if the worker were stopping: measured, a cold restore of 2 000 000 records on the
        loaded machine passed 90 s and the worker was never ready. So the step that holds the bulk read runs
        unbounded: the read stops itself after ``stall_s`` without progress, and a new rebalance still
        interrupts it."""
        if getattr(coro, "cr_code", None) is BulkRecovery._build_offsets.__code__:
            timeout = None
        await super()._wait(coro, timeout)

    async def _build_offsets(self, consumer: ConsumerT, tps: set[TP], destination: Any, title: str) -> None:
        await super()._build_offsets(consumer, tps, destination, title)
        options: BulkRestoreOptions | None = getattr(self.app, "bulk_restore", None)
        if title == "active" and options is not None:
            await self._restore_in_bulk(tps, destination, options)

    async def _restore_in_bulk(
        self, tps: set[TP], offsets: MutableMapping[TP, int], options: BulkRestoreOptions
    ) -> None:
        stores: dict[TP, RocksDBStore] = {}
        for tp in tps:
            store = getattr(self.tp_to_table.get(tp), "data", None)
            if isinstance(store, RocksDBStore):
                stores[tp] = store
        ends = {tp: int(self.active_highwaters[tp]) for tp in stores if self.active_highwaters.get(tp) is not None}
        # Faust's start is the log start - 1, so -2 on a broker that answers -1 for an empty log's start.
        starts = {tp: max(-1, int(offsets[tp] if offsets[tp] is not None else -1)) for tp in stores}
        if not any(end > starts[tp] for tp, end in ends.items()):
            return

        writer = ChangelogWriter()

        def apply(tp: TP, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            writer.write(stores[tp], tp.partition, records)

        consumer = AIOKafkaConsumer(
            bootstrap_servers=server_list(self.app.conf.broker, 9092),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed" if self.app.in_transaction else "read_uncommitted",
            fetch_max_wait_ms=options.fetch_max_wait_ms,
            max_partition_fetch_bytes=options.fetch_bytes,
        )
        began = time.monotonic()
        timings = RestoreTimings()
        await consumer.start()
        consumer._fetcher._prefetch_backoff = options.prefetch_backoff_ms / 1000  # not a constructor argument
        try:
            applied = await read_changelogs(consumer, starts, ends, apply, options, timings)
        finally:
            await consumer.stop()
            writer.flush()  # before Faust's loop or an agent writes (tables.changelog_writes says why)
            for tp, offset in starts.items():  # what is stored, even if the read stopped part-way
                offsets[tp] = offset  # (a Counter: update() would add)
                # Read past a short end: the true end is known now (and Faust checks offset <= end).
                self.active_highwaters[tp] = max(self.active_highwaters[tp], offset)
        logger.info(
            "bulk restore: %d changelog records of %d partitions in %.1f s (fetching %.1f s, writing %.1f s)",
            applied,
            len(ends),
            time.monotonic() - began,
            timings.fetch_s,
            timings.apply_s,
        )


class BulkRecoveryTableManager(TableManager):
    """Faust's TableManager with BulkRecovery (the app's ``TableManager`` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = BulkRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
