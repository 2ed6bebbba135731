"""A retention sweep on a real RocksDB table: expired entries leave the store and the changelog gets tombstones.

The table is the decisions table's kind (tables.batched, RocksDB, 4 partitions) on an app that
is not started: writes and sweeps run with an event of the partition current, as in the agent.
"Restoring" replays every changelog record the writes and the sweep produced into a second table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust
from faust.types.tuples import Message

from agents.batching import in_partition_of
from agents.retention import TableSweeper
from config import Settings
from tables.batched import BatchedChangelogTable, Outbound, batched_table, collecting_outbox
from tables.notifications import delivered_retention
from tables.options import store_options
from tables.retention import Retention, decision_time

DAY = 86_400
START = datetime(2026, 1, 1, tzinfo=UTC)
HORIZON_DAYS = 120


def _event(app: faust.App, partition: int, offset: int = 0) -> faust.Event:
    message = Message("fraud.decisions", partition, offset, 0.0, 0, {}, b"k", b"v", None)
    return faust.Event(app, b"k", b"v", {}, message)


def _changelog_event(app: faust.App, offset: int, record: Outbound) -> faust.Event:
    message = Message(record.topic, record.partition or 0, offset, 0.0, 0, {}, record.key, record.value, None)
    return faust.Event(app, record.key, record.value, {}, message)


def _table(tmp_path: Path, name: str) -> tuple[faust.App, BatchedChangelogTable]:
    app = faust.App(f"sweep-{name}", store="rocksdb://", datadir=str(tmp_path / name))
    table = batched_table(
        app, "decisions", key_type=bytes, value_type=bytes, partitions=4, options=store_options(Settings())
    )
    return app, table


def _decision(n: int, day: int) -> tuple[bytes, bytes]:
    at = (START + timedelta(days=day)).isoformat()
    return b"t%05d" % n, b'{"transaction_id":"t%05d","timestamp":"%s","alert":false}' % (n, at.encode())


def _partition_keys(table: BatchedChangelogTable, partition: int) -> set[bytes]:
    db = table.data._db_for_partition(partition)  # type: ignore[attr-defined]
    return {key for key, _ in db.items() if key != table.data.offset_key}  # type: ignore[attr-defined]


def test_a_sweep_deletes_what_is_past_the_horizon_in_bounded_slices_and_a_restore_keeps_only_the_rest(
    tmp_path: Path,
) -> None:
    app, table = _table(tmp_path, "live")
    sweeper = TableSweeper(table, Retention(HORIZON_DAYS * DAY, decision_time), min_scan=50)
    changelog: list[Outbound] = []
    # 400 decisions on partition 2, two a day over 200 days; 10 old ones on partition 1; a bookkeeping key.
    decisions = [_decision(n, n // 2) for n in range(400)]
    with collecting_outbox() as outbox:
        with in_partition_of(_event(app, 2)):
            for key, value in decisions:
                table[key] = value
            table[b"\x00counted-offset:2"] = b"399"
        with in_partition_of(_event(app, 1)):
            for n in range(400, 410):
                table.__setitem__(*_decision(n, 0))
    changelog += outbox
    newest = (START + timedelta(days=199)).timestamp()
    expired = {key for key, value in decisions if newest - decision_time(key, value) > HORIZON_DAYS * DAY}  # type: ignore[operator]
    assert len(expired) == 158  # days 0..78

    sweeper.observe(2, newest)
    deleted_per_slice: list[int] = []
    with collecting_outbox() as outbox, in_partition_of(_event(app, 2)):
        for _ in range(9):  # 401 entries in slices of 50: one full pass
            deleted_per_slice.append(sweeper.sweep(2))
    changelog += outbox

    assert max(deleted_per_slice) <= 50 and sum(deleted_per_slice) == len(expired)
    assert _partition_keys(table, 2) == {key for key, _ in decisions if key not in expired} | {b"\x00counted-offset:2"}
    assert len(_partition_keys(table, 1)) == 10  # another partition, with no clock, untouched
    tombstones = [(r.key, r.partition) for r in outbox if r.value is None]
    assert sorted(tombstones) == sorted((key, 2) for key in expired)
    assert {r.topic for r in outbox} == {table.changelog_topic.get_topic_name()}

    # A restore from the changelog (writes, then the sweep's tombstones) holds only what the sweep kept.
    restored_app, restored = _table(tmp_path, "restored")
    restored.apply_changelog_batch([_changelog_event(restored_app, n, r) for n, r in enumerate(changelog)])
    assert _partition_keys(restored, 2) == _partition_keys(table, 2)
    assert len(_partition_keys(restored, 1)) == 10


def test_a_second_pass_expires_what_became_old_since_and_a_replay_of_old_data_expires_nothing_more(
    tmp_path: Path,
) -> None:
    app, table = _table(tmp_path, "passes")
    sweeper = TableSweeper(table, Retention(HORIZON_DAYS * DAY, decision_time), min_scan=1000)
    with collecting_outbox(), in_partition_of(_event(app, 0)):
        for n in range(100):
            table.__setitem__(*_decision(n, n))  # one a day, days 0..99
        sweeper.observe(0, (START + timedelta(days=99)).timestamp())
        assert sweeper.sweep(0) == 0  # nothing is 120 days older than day 99
        sweeper.observe(0, (START + timedelta(days=150)).timestamp())
        assert sweeper.sweep(0) == 30  # days 0..29
        sweeper.observe(0, (START + timedelta(days=10)).timestamp())  # a replay of old decisions
        assert sweeper.sweep(0) == 0
    assert len(_partition_keys(table, 0)) == 70


def test_delivered_markers_are_kept_the_configured_time_after_the_newest_delivery(tmp_path: Path) -> None:
    app, table = _table(tmp_path, "markers")
    settings = Settings(sent_alerts_ttl_s=14 * DAY)
    sweeper = TableSweeper(table, delivered_retention(settings), min_scan=100)
    delivered_at = START.timestamp()
    with collecting_outbox() as outbox, in_partition_of(_event(app, 3)):
        for n in range(30):  # one delivery a day
            table[b"alert-%02d|analysts@example.com" % n] = str(delivered_at + n * DAY).encode()
        sweeper.observe(3, delivered_at + 29 * DAY)
        assert sweeper.sweep(3, written=30) == 15  # days 0..14 are more than 14 days before day 29
    assert sorted(_partition_keys(table, 3))[0] == b"alert-15|analysts@example.com"
    assert sum(r.value is None for r in outbox) == 15
