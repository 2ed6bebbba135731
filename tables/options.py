"""The RocksDB options every table's store opens with (one place, so memory is bounded per worker).

A worker holds a RocksDB database per table partition (about 30 with 4 partitions). Faust's
defaults give each a 2 GiB block cache and up to three 64 MiB write buffers (memtables): restoring
100 000 customers left every restored record in memtables (RSS 290 MB after a cold start against
106 MB after a warm one), and the worst case was several GB. Smaller write buffers flush to disk
sooner; reads still go through the block cache and the OS page cache.
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
    if ttl_s is not None:
        options["ttl"] = ttl_s
    return options
