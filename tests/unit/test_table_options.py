"""The tables' RocksDB options (tables.options), and the rocksdict behaviour that keeps TTL off."""

from __future__ import annotations

import gc
import struct
import time
from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions

from config.settings import Settings
from tables.options import store_options, table_dir

DAY_S = 86_400


def test_write_buffers_are_bounded_and_ttl_is_off_unless_asked_for() -> None:
    plain = store_options(Settings(table_write_buffer_bytes=4 << 20), ttl_s=30 * DAY_S)
    assert plain["write_buffer_size"] == 4 << 20 and plain["max_write_buffer_number"] == 2
    assert "ttl" not in plain
    assert store_options(Settings(table_rocksdb_ttl=True), ttl_s=30 * DAY_S)["ttl"] == 30 * DAY_S
    assert "ttl" not in store_options(Settings(table_rocksdb_ttl=True))  # a table without expiry
    # TTL files carry a 4-byte suffix per value: the two modes never open each other's files.
    assert table_dir(Settings()) != table_dir(Settings(table_rocksdb_ttl=True))


def reopened_and_compacted(path: Path, options: RocksDBOptions, items: dict[bytes, bytes]) -> dict[bytes, bool]:
    """Write ``items`` with Faust's store options, open the database again, compact: which keys remain."""
    db = options.open(path)
    for key, value in items.items():
        db.put(key, value)
    db.close()
    del db
    gc.collect()
    db = options.open(path)
    db.compact_range(None, None)
    kept = {key: db.get(key) is not None for key in items}
    db.close()
    return kept


def test_rocksdict_ttl_drops_live_values_after_a_reopen(tmp_path: Path) -> None:
    """Why TTL is off: a reopened TTL database's compaction reads each value's own last 4 bytes as its
    write time. If this starts failing, rocksdict fixed it and ``TABLE_ROCKSDB_TTL`` can come back."""
    now = int(time.time())
    items = {
        b"future": b"abc" + struct.pack("<I", now + 10**6),
        b"past": b"abc" + struct.pack("<I", now - 10**8),
        b"state": b'[2,[[1795000000.0,"t1",12.5]],3]',  # ends in "3]": a time in 2019
        b"offset": b"75089",  # Faust's stored offset: "5089" is a time in 2000
    }
    cache = 8 << 20
    ttl = RocksDBOptions(ttl=30 * DAY_S, block_cache_size=cache)
    with_ttl = reopened_and_compacted(tmp_path / "ttl.db", ttl, items)
    assert with_ttl == {b"future": True, b"past": False, b"state": False, b"offset": False}
    assert all(reopened_and_compacted(tmp_path / "plain.db", RocksDBOptions(block_cache_size=cache), items).values())
