"""What a broker holds, per topic: records, produce batches and bytes (and the fullest partition's batches).

The embedded broker (Tansu, memory storage) keeps every batch as one object and lists all of a
partition's objects on every fetch that finds new data, so its cost grows with the batch count of
the partitions read; its memory with the bytes. This reads each partition whole with raw fetch
requests and counts the batches as stored, which a consumer's records do not show.

    .venv/bin/python -m bench.broker_footprint --broker kafka://127.0.0.1:PORT
    .venv/bin/python -m bench.broker_footprint --data-dir .fraudwatch   # the broker that data dir's demo runs
"""

from __future__ import annotations

import argparse
import asyncio
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest

from config.broker import bootstrap_servers
from runtime.broker import running_embedded_broker

#: Bytes asked for per fetch: large, so a partition reads back in a few round trips.
FETCH_BYTES = 32 * 1024 * 1024


@dataclass
class TopicFootprint:
    topic: str
    partitions: int = 0
    records: int = 0
    batches: int = 0
    bytes: int = 0
    #: Batches in the partition holding the most: what one fetch of it walks on the embedded broker.
    max_partition_batches: int = 0
    per_partition_batches: list[int] = field(default_factory=list)


def batch_headers(message_set: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(base offset, size in bytes, last offset delta, record count) of each whole v2 batch in a fetch answer."""
    at = 0
    while at + 61 <= len(message_set):
        base_offset, length = struct.unpack_from(">qi", message_set, at)
        size = 12 + length
        if at + size > len(message_set):
            return  # a fetch may end inside a batch; the next one starts there
        (last_offset_delta,) = struct.unpack_from(">i", message_set, at + 23)
        (count,) = struct.unpack_from(">i", message_set, at + 57)
        yield base_offset, size, last_offset_delta, count
        at += size


async def _partition(client: AIOKafkaClient, node: int, topic: str, partition: int) -> tuple[int, int, int]:
    """(records, batches, bytes) of one partition, read from offset 0 to its end."""
    records = batches = size = 0
    offset = 0
    while True:
        request = FetchRequest(100, 1, FETCH_BYTES, 0, [(topic, [(partition, offset, FETCH_BYTES)])])
        response = await client.send(node, request)
        _, parts = response.topics[0]
        _, error, high_watermark, *_, message_set = parts[0]
        if error or not message_set:
            return records, batches, size
        before = offset
        for base_offset, length, last_offset_delta, count in batch_headers(bytes(message_set)):
            batches += 1
            size += length
            records += count
            offset = max(offset, base_offset + last_offset_delta + 1)
        if offset == before or offset >= high_watermark:
            return records, batches, size


async def footprint(broker_url: str, topics: list[str] | None = None) -> list[TopicFootprint]:
    """Every topic's footprint (or the named ones'), largest first by bytes."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers(broker_url))
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        names = topics or sorted(client.cluster.topics())
        node = client.get_random_node()
        found = []
        for topic in names:
            result = TopicFootprint(topic)
            for partition in sorted(client.cluster.partitions_for_topic(topic) or ()):
                records, batches, size = await _partition(client, node, topic, partition)
                result.partitions += 1
                result.records += records
                result.batches += batches
                result.bytes += size
                result.per_partition_batches.append(batches)
            result.max_partition_batches = max(result.per_partition_batches, default=0)
            found.append(result)
        return sorted(found, key=lambda t: t.bytes, reverse=True)
    finally:
        await client.close()


def table(found: list[TopicFootprint], per: int | None = None) -> str:
    """A text table; with ``per`` (transactions), each count is also shown per transaction."""
    head = f"{'topic':<44} {'parts':>5} {'records':>9} {'batches':>9} {'bytes':>11} {'max batches/part':>16}"
    if per:
        head += f" {'rec/tx':>7} {'batch/tx':>8} {'bytes/tx':>8}"
    lines = [head]
    total = TopicFootprint("total")
    for t in [*found, total]:
        if t is not total:
            total.records += t.records
            total.batches += t.batches
            total.bytes += t.bytes
            total.partitions += t.partitions
        line = (
            f"{t.topic:<44} {t.partitions:>5} {t.records:>9} {t.batches:>9} {t.bytes:>11} {t.max_partition_batches:>16}"
        )
        if per:
            line += f" {t.records / per:>7.2f} {t.batches / per:>8.2f} {t.bytes / per:>8.0f}"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--broker", help="kafka://host:port")
    where.add_argument("--data-dir", type=Path, help="find the embedded broker a fraudwatch command started here")
    parser.add_argument("--per", type=int, help="show counts per this many transactions")
    args = parser.parse_args()
    url = args.broker or running_embedded_broker(args.data_dir / "embedded-broker.json")
    if url is None:
        raise SystemExit(f"no embedded broker runs for {args.data_dir}")
    print(table(asyncio.run(footprint(url)), args.per))


if __name__ == "__main__":
    main()
