"""The RocksDB options every table's store opens with (one place, so memory is bounded per worker).

A worker holds a RocksDB database per table partition (about 30 with 4 partitions). Faust's
defaults give each a 2 GiB block cache and up to three 64 MiB write buffers (memtables): restoring
100 000 customers left every restored record in memtables (RSS 290 MB after a cold start against
106 MB after a warm one), and the worst case was several GB. Smaller write buffers flush to disk
sooner; reads still go through the block cache and the OS page cache.

RocksDB's TTL (the ``ttl`` option, Faust's only expiry that survives a rebalance) is off unless
``TABLE_ROCKSDB_TTL`` is set: measured with rocksdict 0.3 and Faust's store, once a TTL database is
opened again (any restart), compaction judges each value by its *own* last four bytes read as a
write time, as if the timestamp were stripped twice: a value ending in ``"}`` (0x7d22..: year
2036+) never expires, and one ending in digits or ``]`` (a customer state, Faust's stored offset)
reads as a time before 2020 and is dropped. Measured at 300 000 customers: the stored offsets of
three of four customer-reference partitions vanished between a cold and a warm start, so the warm
start read 225 000 changelog records again. Without TTL nothing expires in RocksDB; the detect
agent already treats a state idle past ``STATE_TTL_S`` as new. Files written with TTL carry a
4-byte suffix per value, so each mode keeps its own directory (``table_dir``): switching restores
from the changelogs.
"""

from __future__ import annotations

from typing import Any

from config import Settings


def store_options(settings: Settings, ttl_s: int | None = None) -> dict[str, Any]:
    """Options for ``app.Table(options=...)``; ``ttl_s`` drops values not written for that long."""
    options: dict[str, Any] = {
        "block_cache_size": settings.table_block_cache_bytes,
        "write_buffer_size": settings.table_write_buffer_bytes,
        "max_write_buffer_number": 2,
    }
    if ttl_s is not None and settings.table_rocksdb_ttl:
        options["ttl"] = ttl_s
    return options


def table_dir(settings: Settings) -> str:
    """Faust's ``tabledir`` (under the app's data dir): TTL and plain stores never share files."""
    return "tables" if settings.table_rocksdb_ttl else "tables-plain"
