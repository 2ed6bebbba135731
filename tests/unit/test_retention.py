"""What a retention sweep deletes (tables.retention): event time per partition, bounded slices, a cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tables.retention import (
    PartitionClocks,
    Retention,
    decision_time,
    delivered_time,
    is_expired,
    scan,
    scan_budget,
)

DAY = 86_400.0
#: Entries whose value is their event time in days, as text.
BY_DAY = Retention(horizon_s=10 * DAY, entry_time=lambda _k, v: float(v) * DAY if v != b"-" else None)


def entries(days: dict[bytes, str]) -> list[tuple[bytes, bytes]]:
    return sorted((key, day.encode()) for key, day in days.items())


def test_an_entry_expires_only_past_the_horizon_from_the_newest_time_seen() -> None:
    assert is_expired(0.0, newest=10 * DAY + 1, horizon_s=10 * DAY)
    assert not is_expired(0.0, newest=10 * DAY, horizon_s=10 * DAY)
    assert not is_expired(None, newest=1e12, horizon_s=1.0)


def test_a_slice_returns_the_expired_keys_and_where_the_next_one_starts() -> None:
    partition = entries({b"a": "1", b"b": "25", b"c": "3", b"d": "30", b"e": "2"})
    first = scan(partition, BY_DAY, newest=30 * DAY, limit=3)
    assert (first.expired, first.scanned, first.next_key) == ([b"a", b"c"], 3, b"d")
    rest = scan([e for e in partition if e[0] >= b"d"], BY_DAY, newest=30 * DAY, limit=3)
    assert (rest.expired, rest.scanned, rest.next_key) == ([b"e"], 2, None)  # None: start again at the first key


def test_nothing_expires_before_a_time_is_seen_and_entries_without_a_time_never_do() -> None:
    partition = entries({b"a": "1", b"offset": "-"})
    assert scan(partition, BY_DAY, newest=None, limit=10).expired == []
    assert scan(partition, BY_DAY, newest=1000 * DAY, limit=10).expired == [b"a"]


def test_the_clock_of_a_partition_never_goes_back() -> None:
    clocks = PartitionClocks()
    clocks.observe(1, 100.0)
    clocks.observe(1, 50.0)  # a replay of older data
    clocks.observe(2, 7.0)
    assert (clocks.newest(1), clocks.newest(2), clocks.newest(3)) == (100.0, 7.0, None)


def test_a_slice_looks_at_twice_what_the_batch_wrote_at_least() -> None:
    assert scan_budget(200, written=10) == 200
    assert scan_budget(200, written=500) == 1000


def test_a_decisions_time_is_its_transactions_event_time() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    value = b'{"transaction_id":"t1","timestamp":"%s","alert":false}' % at.isoformat().encode()
    assert decision_time(b"t1", value) == at.timestamp()
    zulu = (at + timedelta(hours=1)).isoformat().replace("+00:00", "Z").encode()
    assert decision_time(b"t1", b'{"timestamp":"%s"}' % zulu) == at.timestamp() + 3600
    tricky = b'{"transaction_id":"x\\"timestamp\\":\\"1999","timestamp":"%s"}' % at.isoformat().encode()
    assert decision_time(b"x", tricky) == at.timestamp()  # the name inside a string value is escaped
    assert decision_time(b"\x00counted-offset:1", b"41") is None
    assert decision_time(b"t2", b'{"timestamp":"yesterday"}') is None
    assert decision_time(b"t3", b"not json") is None


def test_a_delivered_markers_time_is_its_text() -> None:
    assert delivered_time(b"a|x@y", b"1790000000.25") == 1790000000.25
    assert delivered_time(b"a|x@y", b"soon") is None
