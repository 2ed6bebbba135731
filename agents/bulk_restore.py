"""Table recovery that reads the changelogs in bulk before Faust's own, record-by-record, loop.

Faust restores a table one changelog record at a time: each record crosses from the consumer
thread through the conductor (a ``wait_first`` with two new tasks per message), the changelog
queue and the recovery loop. Measured on the batched worker: ~1 150 records/s, so 100 000
customers (200 000 records in two tables) took 174 s to restore and 300 000 did not finish in
600 s, while a plain consumer reads the same kind of records from the same broker at
23 000-53 000/s.

So, once Faust has worked out where each active changelog partition must be read from (the
offset stored in the local RocksDB, or the log start) and up to where (its high-water mark, the
true end on the embedded broker: agents.transport), fetch requests of our own (ChangelogFetcher,
one partition per request, two in flight) read that range in large fetches, and each run of
records is written to the table's store in one write batch, the stored offset in the same batch
(tables.changelog_writes), so it advances with the data.
Faust's loop then starts from the offsets reached and finds nothing left, or only what the bulk
read did not finish (it stops when a partition makes no progress for ``stall_s``): the bulk read
never has to be complete to be safe. Standby partitions keep Faust's loop; only tables on a
RocksDB store are read here (a store that keeps the records' raw bytes).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition, errors
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import server_list
from faust.types import TP, ConsumerT

from tables.changelog_writes import ChangelogRecord, ChangelogWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkRestoreOptions:
    """How the bulk read fetches: bytes per request, requests in flight, and how long it waits without progress.

    The fetch wait is long on purpose, whatever the worker's own. Every read here starts below the
    partition's end, so any broker answers as soon as it has found the records; the embedded one first
    lists every batch of the partition and gives up with an empty answer when that outlasts the wait
    (measured: 200 000 records of 1.2 kB in 4 partitions read at 7 000/s with 5 ms, 61 000-76 000/s with
    100-500 ms; one partition of 100 000 one-record batches, as a worker at a low rate writes them, on
    the loaded machine: stuck at offset 59 979 with 500 ms, read whole with 5 s; bench.broker_fetch_cost
    --whole-read, bench/RESULTS.md session 10).
    """

    #: Most bytes a fetch asks for. The embedded broker answers at most 5 MiB a request whatever is asked
    #: (and each request costs it a listing of the partition's batches), so asking less than that only makes
    #: more requests: 4 MiB cost it 13.7 s of CPU for 2 000 000 records, 16 MiB 11.2 s (bench/RESULTS.md s. 10).
    fetch_bytes: int = 16 * 1024 * 1024
    #: Most records applied in one write (one WriteBatch); a fetch's records are applied in runs this long.
    max_records: int = 10_000
    fetch_max_wait_ms: int = 5000
    #: Fetch requests in flight at once, each on its own connection and for one partition: the broker
    #: prepares the next answers while this process decodes and writes the last one.
    connections: int = 2
    stall_s: float = 10.0


@dataclass
class RestoreTimings:
    """Where a bulk read's time went: waiting for the broker's answers, and decoding and applying them."""

    fetch_s: float = 0.0
    apply_s: float = 0.0


#: Writes one partition's records (in offset order) to its table; returns nothing.
Apply = Callable[[TP, Sequence[ChangelogRecord]], None]

#: The first two fields of a control record's key; type 0 is an abort marker.
_CONTROL_KEY = struct.Struct(">hh")


@dataclass(frozen=True)
class Fetched:
    """One partition's answer to a fetch: its records from the offset asked for, and the offset after them
    (past compacted gaps and control batches too); ``next_offset`` is the offset asked for when it had none."""

    records: list[ChangelogRecord]
    next_offset: int


def decode_fetched(
    raw: bytes | None, offset: int, aborted: Sequence[tuple[int, int]] | None, read_committed: bool
) -> Fetched:
    """The records of one partition's fetch answer (``raw``, Kafka's record batches) at or after ``offset``.

    Records stay aiokafka's C-decoded record objects, not a ``ConsumerRecord`` each (what the consumer
    builds, and most of its cost per record). Control batches are skipped; with ``read_committed``, so is
    every batch of a transaction the broker lists in ``aborted`` (producer id, first offset) until its abort
    marker, as Kafka's consumers do.
    """
    records: list[ChangelogRecord] = []
    next_offset = offset
    if not raw:
        return Fetched(records, next_offset)
    upcoming = sorted(aborted or (), key=lambda txn: txn[1]) if read_committed else []
    aborting: set[int] = set()
    batches = MemoryRecords(raw)
    while (batch := batches.next_batch()) is not None:
        while upcoming and upcoming[0][1] <= batch.base_offset:
            aborting.add(upcoming.pop(0)[0])
        next_offset = max(next_offset, batch.next_offset)
        if batch.is_control_batch:
            if read_committed and batch.producer_id in aborting:
                control = next(iter(batch), None)
                if control is not None and control.key and _CONTROL_KEY.unpack_from(control.key)[1] == 0:
                    aborting.discard(batch.producer_id)
            continue
        if read_committed and batch.is_transactional and batch.producer_id in aborting:
            continue
        records.extend(record for record in batch if record.offset >= offset)
    return Fetched(records, next_offset)


class ChangelogFetcher:
    """Fetch requests of our own, one partition each, spread over ``connections`` connections to its leader.

    aiokafka's consumer was the bulk read's fetcher: it builds a ``ConsumerRecord`` per record (2.6 of the
    4.3 s it spent decoding 600 000 records, session 9) and has one fetch in flight per broker. Here the
    records stay as aiokafka's C decoder gives them (tables.changelog_writes reads key, value and offset),
    and while this process writes one answer the broker is already preparing the next.
    """

    def __init__(self, bootstrap_servers: Any, options: BulkRestoreOptions, read_committed: bool) -> None:
        self._options = options
        self._read_committed = read_committed
        self._clients = [
            AIOKafkaClient(bootstrap_servers=bootstrap_servers) for _ in range(max(1, options.connections))
        ]
        self._idle: asyncio.Queue[AIOKafkaClient] = asyncio.Queue()

    async def start(self, topics: set[str]) -> None:
        for client in self._clients:
            await client.bootstrap()
            for topic in topics:
                client.add_topic(topic)
            await client.force_metadata_update()
            self._idle.put_nowait(client)

    async def stop(self) -> None:
        for client in self._clients:
            await client.close()

    async def fetch(self, tp: TP, offset: int) -> tuple[bytes | None, Sequence[tuple[int, int]] | None]:
        """One partition's records from ``offset`` (raw record batches) and the aborted transactions listed
        with them; (None, None) when the partition has no leader known or the broker answered with an error."""
        client = await self._idle.get()
        try:
            leader = client.cluster.leader_for_partition(TopicPartition(tp.topic, tp.partition))
            if leader is None or leader < 0:
                return None, None
            options = self._options
            request = FetchRequest(
                options.fetch_max_wait_ms,
                1,
                options.fetch_bytes,
                int(self._read_committed),
                [(tp.topic, [(tp.partition, offset, options.fetch_bytes)])],
            )
            response = await client.send(leader, request)
        finally:
            self._idle.put_nowait(client)
        for _topic, partitions in response.topics:
            for partition in partitions:
                error = errors.for_code(partition[1])
                if error is not errors.NoError:
                    logger.warning("bulk restore fetch of %s at %d: %s", tp, offset, error.__name__)
                    return None, None
                # From v4 the aborted transactions ((producer id, first offset)s) come between offsets and records.
                aborted = next((field for field in partition[4:-1] if isinstance(field, list)), None)
                return partition[-1], aborted
        return None, None

    async def read(self, tp: TP, offset: int) -> Fetched:
        raw, aborted = await self.fetch(tp, offset)
        return decode_fetched(raw, offset, aborted, self._read_committed)


async def read_changelogs(
    fetcher: ChangelogFetcher,
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
    so whatever happens it says what is stored. A partition is done when the offset after its last
    fetch passes its end (compacted gaps and transaction markers count as read). Fetches are applied
    whole, even past the end: an end the embedded broker reported short (its last batch's base
    offset, when the end-offset probe timed out on a large log) then still brings the whole last
    batch. Up to ``options.connections`` partitions are fetched at once, each partition's fetches in
    order. Reading stops early if no partition made progress for ``options.stall_s``.
    """
    timings = timings if timings is not None else RestoreTimings()
    waiting = deque(sorted(tp for tp, end in ends.items() if end > starts[tp]))
    positions = {tp: starts[tp] + 1 for tp in waiting}
    applied = 0
    progress_at = time.monotonic()
    in_flight: dict[asyncio.Future[Fetched], TP] = {}
    try:
        while waiting or in_flight:
            while waiting and len(in_flight) < max(1, options.connections):
                tp = waiting.popleft()
                in_flight[asyncio.ensure_future(fetcher.read(tp, positions[tp]))] = tp
            began = time.perf_counter()
            done, _ = await asyncio.wait(in_flight, timeout=options.stall_s, return_when=asyncio.FIRST_COMPLETED)
            answered_at = time.perf_counter()
            timings.fetch_s += answered_at - began
            for future in done:
                tp = in_flight.pop(future)
                fetched = future.result()
                for first in range(0, len(fetched.records), options.max_records):
                    run = fetched.records[first : first + options.max_records]
                    apply(tp, run)  # past the end is still this table's log, and is applied
                    starts[tp] = run[-1].offset
                    applied += len(run)
                if fetched.next_offset > positions[tp]:
                    positions[tp] = fetched.next_offset
                    progress_at = time.monotonic()
                if positions[tp] > ends[tp]:
                    starts[tp] = max(starts[tp], ends[tp])
                else:
                    waiting.append(tp)
            timings.apply_s += time.perf_counter() - answered_at
            if time.monotonic() - progress_at > options.stall_s:
                unfinished = sorted({*waiting, *in_flight.values()})
                logger.warning("bulk restore made no progress for %.0f s on %s", options.stall_s, unfinished)
                break
    finally:
        for future in in_flight:
            future.cancel()
        if in_flight:
            await asyncio.wait(in_flight)
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

        def apply(tp: TP, records: Sequence[ChangelogRecord]) -> None:
            writer.write(stores[tp], tp.partition, records)

        fetcher = ChangelogFetcher(
            server_list(self.app.conf.broker, 9092), options, read_committed=bool(self.app.in_transaction)
        )
        began = time.monotonic()
        timings = RestoreTimings()
        try:
            await fetcher.start({tp.topic for tp in ends})
            applied = await read_changelogs(fetcher, starts, ends, apply, options, timings)
        finally:
            await fetcher.stop()
            writer.flush()  # before Faust's loop or an agent writes (tables.changelog_writes says why)
            for tp, offset in starts.items():  # what is stored, even if the read stopped part-way
                offsets[tp] = offset  # (a Counter: update() would add)
                # Read past a short end: the true end is known now (and Faust checks offset <= end).
                self.active_highwaters[tp] = max(self.active_highwaters[tp], offset)
        logger.info(
            "bulk restore: %d changelog records of %d partitions in %.1f s (waiting %.1f s, decoding + writing %.1f s)",
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
