"""The bulk changelog read (agents.bulk_restore) against the embedded broker: it applies exactly the
range Faust's recovery asks for, in order and in batches, says what it stored when it stops early, and
leaves a real RocksDB table holding each key's last value (tables.changelog_writes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP

from agents.bulk_restore import BulkRestoreOptions, ChangelogFetcher, read_changelogs
from config.broker import bootstrap_servers
from config.settings import Settings
from runtime.broker import EmbeddedBroker
from tables.batched import BatchedChangelogTable, batched_table
from tables.changelog_writes import ChangelogRecord, ChangelogWriter
from tables.options import store_options

TOPIC = "bulk-restore-changelog"


async def produce(broker: EmbeddedBroker, topic: str, partition: int, count: int, first: int = 0) -> None:
    """``count`` records keyed k<n> in batches of 100, every tenth a tombstone (a deleted key)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url), linger_ms=50)
    await producer.start()
    try:
        for n in range(first, first + count):
            value = None if n % 10 == 9 else f"v{n}".encode()
            await producer.send(topic, value, key=f"k{n}".encode(), partition=partition)
            if n % 100 == 99:
                await producer.flush()
        await producer.flush()
    finally:
        await producer.stop()


class Applied:
    """What a table's store would receive: per partition, the batches of (offset, key, value)."""

    def __init__(self) -> None:
        self.batches: dict[TP, list[list[tuple[int, bytes | None, bytes | None]]]] = {}

    def __call__(self, tp: TP, records: Sequence[ChangelogRecord]) -> None:
        self.batches.setdefault(tp, []).append([(r.offset, r.key, r.value) for r in records])

    def offsets(self, tp: TP) -> list[int]:
        return [offset for batch in self.batches.get(tp, []) for offset, _, _ in batch]


async def fetcher_for(broker: EmbeddedBroker, topic: str, options: BulkRestoreOptions) -> ChangelogFetcher:
    fetcher = ChangelogFetcher(bootstrap_servers(broker.url), options, read_committed=False)
    await fetcher.start({topic})
    return fetcher


async def test_reads_from_the_stored_offset_through_the_end_in_whole_fetches(broker: EmbeddedBroker) -> None:
    topic = f"{TOPIC}-range"
    await produce(broker, topic, 0, 1_000)
    await produce(broker, topic, 1, 10)
    p0, p1, p2 = TP(topic, 0), TP(topic, 1), TP(topic, 2)
    # Faust's convention: start = last offset applied (-1: none), end = last offset to apply.
    starts = {p0: 249, p1: -1, p2: -1}
    ends = {p0: 899, p1: 9, p2: -1}  # as if records 900-999 of partition 0 came after recovery began
    applied = Applied()
    options = BulkRestoreOptions(max_records=300)
    fetcher = await fetcher_for(broker, topic, options)
    try:
        count = await read_changelogs(fetcher, starts, ends, applied, options)
    finally:
        await fetcher.stop()

    # From the stored offset, in order, with nothing skipped, at least through the end; a fetch that
    # ends past it (the short end the embedded broker reports) is applied whole.
    assert applied.offsets(p0) == list(range(250, starts[p0] + 1))
    assert 899 <= starts[p0] <= 999
    assert applied.offsets(p1) == list(range(10))
    assert p2 not in applied.batches  # an empty partition is not read at all
    assert count == starts[p0] - 249 + 10
    assert (starts[p1], starts[p2]) == (9, -1)  # what is stored now, for Faust's loop to start from
    assert len(applied.batches[p0]) >= 3  # in batches of at most max_records, not one by one
    assert all(len(batch) <= 300 for batch in applied.batches[p0])
    first = applied.batches[p0][0][0]
    assert first == (250, b"k250", b"v250")
    assert (259, b"k259", None) in applied.batches[p0][0]  # a tombstone is applied as a delete


async def test_stops_without_progress_and_says_what_it_stored(broker: EmbeddedBroker) -> None:
    """An end the broker never reaches (a log cut short under it) must not hang recovery: the read
    stops after ``stall_s`` without progress, and Faust's own loop takes over from what is stored."""
    topic = f"{TOPIC}-stall"
    await produce(broker, topic, 0, 200)
    tp = TP(topic, 0)
    starts = {tp: -1}
    applied = Applied()
    options = BulkRestoreOptions(stall_s=1.0)
    fetcher = await fetcher_for(broker, topic, options)
    try:
        count = await read_changelogs(fetcher, starts, {tp: 499}, applied, options)
    finally:
        await fetcher.stop()

    assert count == 200
    assert applied.offsets(tp) == list(range(200))
    assert starts == {tp: 199}


def changelog_history(rounds: int, keys: int, partitions: int) -> list[tuple[int, bytes, bytes | None]]:
    """(partition, key, value) writes as a table's changelog holds them: every key written ``rounds`` times,
    some deleted on the way (every seventh key in round 1) and some of those written again later."""
    history: list[tuple[int, bytes, bytes | None]] = []
    for round_ in range(rounds):
        for n in range(keys):
            deleted = round_ == 1 and n % 7 == 0
            value = None if deleted else b'{"n":%d,"round":%d,"pad":"%s"}' % (n, round_, b"x" * (n % 300))
            if deleted or round_ != 2 or n % 7 != 0 or n % 2 == 0:  # odd multiples of 7 stay deleted
                history.append((n % partitions, b"c%05d" % n, value))
    return history


async def produce_history(broker: EmbeddedBroker, topic: str, history: list[tuple[int, bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url), linger_ms=20)
    await producer.start()
    try:
        for partition, key, value in history:
            await producer.send(topic, value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def last_values(history: list[tuple[int, bytes, bytes | None]], partition: int) -> dict[bytes, bytes]:
    """What a restore of ``partition`` must hold: each key's last value, deleted keys absent."""
    last: dict[bytes, bytes | None] = {}
    for p, key, value in history:
        if p == partition:
            last[key] = value
    return {key: value for key, value in last.items() if value is not None}


def rocksdb_table(data_dir: Path, partitions: int) -> BatchedChangelogTable:
    """The customer tables' kind of table (bytes, RocksDB, the worker's store options) on an app not started."""
    app = faust.App("bulk-restore-exact", store="rocksdb://", datadir=str(data_dir))
    options = store_options(Settings())
    return batched_table(
        app, "customer-behaviour", key_type=bytes, value_type=bytes, partitions=partitions, options=options
    )


def stored(store: RocksDBStore, partition: int) -> dict[bytes, bytes]:
    db = store._db_for_partition(partition)
    return {key: value for key, value in db.items() if key != store.offset_key}


async def restore_into(broker: EmbeddedBroker, store: RocksDBStore, topic: str, partitions: int) -> dict[TP, int]:
    """Read each partition from the store's own stored offset through the log end, as a restart would."""
    tps = [TP(topic, p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker.url), group_id=None)
    await consumer.start()
    try:
        kafka_tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = {TP(tp.topic, tp.partition): end - 1 for tp, end in (await consumer.end_offsets(kafka_tps)).items()}
    finally:
        await consumer.stop()
    starts = {tp: store.persisted_offset(tp) or -1 for tp in tps}
    writer = ChangelogWriter()
    options = BulkRestoreOptions(max_records=250)
    fetcher = await fetcher_for(broker, topic, options)
    try:
        await read_changelogs(
            fetcher, starts, ends, lambda tp, records: writer.write(store, tp.partition, records), options
        )
    finally:
        await fetcher.stop()
    writer.flush()
    return starts


async def test_a_restored_store_holds_every_keys_last_value_and_its_offset_across_a_restart(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Cold, then warm after more writes, then reopened: every key equals the changelog's last value for it
    (rewrites, deletes, keys deleted and written again), and the stored offset is the last one read."""
    topic, partitions = f"{TOPIC}-exact", 3
    first, more = changelog_history(3, 600, partitions), changelog_history(2, 900, partitions)
    await produce_history(broker, topic, first)
    table = rocksdb_table(tmp_path / "worker", partitions)
    store = cast(RocksDBStore, table.data)

    reached = await restore_into(broker, store, topic, partitions)  # cold: an empty data dir
    for p in range(partitions):
        assert stored(store, p) == last_values(first, p)
        assert store.persisted_offset(TP(topic, p)) == reached[TP(topic, p)] == len([h for h in first if h[0] == p]) - 1

    await produce_history(broker, topic, more)
    await restore_into(broker, store, topic, partitions)  # warm: from the stored offsets on
    for p in range(partitions):
        assert stored(store, p) == last_values(first + more, p)
    for db in store._dbs.values():  # a restart: the restore wrote without RocksDB's log, then flushed
        db.close()

    reopened = rocksdb_table(tmp_path / "worker", partitions)
    for p in range(partitions):
        assert stored(cast(RocksDBStore, reopened.data), p) == last_values(first + more, p)
