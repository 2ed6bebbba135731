"""agents.partitioning puts every key where the Kafka client's default partitioner does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from agents.partitioning import key_partition


@given(key=st.binary(max_size=64), partitions=st.integers(min_value=1, max_value=64))
def test_a_key_goes_where_the_default_partitioner_puts_it(key: bytes, partitions: int) -> None:
    numbered = list(range(partitions))
    assert key_partition(key, partitions) == DefaultPartitioner()(key, numbered, numbered)
    assert key_partition(key, partitions) == key_partition(key, partitions)  # the second answer from the cache
