"""Kafka's default partitioner (murmur2 of the key), with each key's hash computed once.

aiokafka's murmur2 is pure Python, a few microseconds a key, and a transaction's records share its
customer's key on four topics (validated, decisions, alerts, state changelog); validate also asks
where each customer's key belongs. A small LRU keeps the hashes of the keys in flight.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2

#: Keys whose hash is kept: a few batches' worth of customers.
KEYS_KEPT = 8192


@lru_cache(maxsize=KEYS_KEPT)
def key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partition(key: bytes, partitions: int) -> int:
    """The partition, of a topic with ``partitions`` (numbered 0..n-1), that the default partitioner gives ``key``."""
    return key_hash(key) % partitions
