"""What a fetch costs the embedded broker as a partition grows: by its batch count, or by its bytes?

Tansu's memory storage keeps each produce batch as one object and lists every object of a
partition whenever a fetch asks for an offset below its end, and stops listing at the fetch's
deadline (its max wait). This grows three one-partition topics side by side on one embedded broker
and, at each size, times a consumer reading the newest batch (the steady state of a live
consumer), counts the broker's CPU per such fetch, and how many of 10 fetches with a shorter wait
(5, 20, 100 ms) answer at all:

- ``small``: one-record batches of ~500 bytes (what a live stream at a low rate writes);
- ``large``: one-record batches of ~5 000 bytes (10x the bytes, the same batch count);
- ``batched``: the same records as ``small`` in batches of 100 (the same bytes, 1/100 the batches).

    .venv/bin/python -m bench.broker_fetch_cost [--sizes 2000,5000,10000,20000,40000] [--fetches 50]

``--whole-read RECORDS`` measures instead what a cold restore asks of the broker: one partition of
RECORDS changelog-sized records (800 bytes) written in batches of ``--batch-records`` (one run per
count), then read whole from offset 0 with requests of one partition and 4 MiB, as the bulk restore
reads. Printed per run: the requests, the bytes an answer carries (the broker caps an answer at 5 MiB
whatever is asked), the broker's CPU for the whole read and per request, and its CPU per request for
the partition's newest batch alone (the listing of the partition's batches that every request pays),
and the empty answers (the broker gave up listing at the fetch's wait, ``--wait-ms``; 20 in a row end the read).

    .venv/bin/python -m bench.broker_fetch_cost --whole-read 250000 [--batch-records 1,3,16,100,1000] [--wait-ms 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

from config.broker import bootstrap_servers
from runtime.broker import EmbeddedBroker

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Topic -> (bytes per record, records per batch).
SHAPES = {"small": (500, 1), "large": (5000, 1), "batched": (500, 100)}
#: The timed fetches wait this long at most (they return once the data is there).
LONG_WAIT_MS = 2000
#: Shorter fetch waits whose answers are counted: Tansu stops listing a partition at the fetch's
#: deadline, so a fetch whose listing takes longer than its wait comes back empty.
SHORT_WAITS_MS = (5, 20, 100)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def grow(producer: AIOKafkaProducer, topic: str, count: int, size: int, per_batch: int) -> None:
    """Append ``count`` records to partition 0, ``per_batch`` to a produce batch."""
    value = b"x" * size
    for start in range(0, count, per_batch):
        batch = producer.create_batch()
        for _ in range(min(per_batch, count - start)):
            if batch.append(key=None, value=value, timestamp=None) is None:
                raise RuntimeError("a batch is full: raise the producer's max_batch_size")
        batch.close()
        await (await producer.send_batch(batch, topic, partition=0))


async def newest_fetch(client: AIOKafkaClient, node: int, topic: str, last_batch: int, wait_ms: int) -> float | None:
    """Seconds for one fetch of the newest batch, asked from its base offset (Tansu returns only batches
    that start at or after the offset asked for); None when the answer came back empty."""
    request = FetchRequest(wait_ms, 1, 1 << 20, 0, [(topic, [(0, last_batch, 1 << 20)])])
    started = time.perf_counter()
    response = await client.send(node, request)
    elapsed = time.perf_counter() - started
    return elapsed if response.topics and response.topics[0][1][0][-1] else None


async def answers_of_ten(client: AIOKafkaClient, node: int, topic: str, last_batch: int, wait_ms: int) -> int:
    """How many of 10 fetches with this wait return the newest batch."""
    return sum([await newest_fetch(client, node, topic, last_batch, wait_ms) is not None for _ in range(10)])


@asynccontextmanager
async def one_partition_topics(
    topics: list[str],
) -> AsyncIterator[tuple[int, AIOKafkaProducer, AIOKafkaClient, int]]:
    """An embedded broker with ``topics`` of one partition each: its pid, a producer that sends each batch
    as it is given (no linger), a client for raw fetch requests and the node to send them to."""
    with EmbeddedBroker() as broker:
        assert broker._process is not None
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker.url))
        await admin.start()
        await admin.create_topics([NewTopic(topic, 1, 1) for topic in topics])
        await admin.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers(broker.url), linger_ms=0, max_batch_size=1 << 20
        )
        client = AIOKafkaClient(bootstrap_servers=bootstrap_servers(broker.url))
        await producer.start()
        await client.bootstrap()
        try:
            yield broker._process.pid, producer, client, client.get_random_node()
        finally:
            await producer.stop()
            await client.close()


async def run(sizes: list[int], fetches: int) -> None:
    async with one_partition_topics(list(SHAPES)) as (pid, producer, client, node):
        print(
            f"{'records':>8} {'topic':>8} {'batches':>8} {'fetch ms p50':>12} {'broker CPU ms/fetch':>19} "
            + " ".join(f"{f'{wait} ms wait':>12}" for wait in SHORT_WAITS_MS)
        )
        have = 0
        for size in sizes:
            for topic, (record_bytes, per_batch) in SHAPES.items():
                await grow(producer, topic, size - have, record_bytes, per_batch)
            have = size
            for topic, (_, per_batch) in SHAPES.items():
                before = cpu_seconds(pid)
                last = size - per_batch
                long = [await newest_fetch(client, node, topic, last, LONG_WAIT_MS) for _ in range(fetches)]
                cpu_ms = (cpu_seconds(pid) - before) * 1000 / fetches
                answered = {wait: await answers_of_ten(client, node, topic, last, wait) for wait in SHORT_WAITS_MS}
                print(
                    f"{size:>8} {topic:>8} {-(-size // per_batch):>8} "
                    f"{statistics.median(t for t in long if t is not None) * 1000:>12.2f} {cpu_ms:>19.2f} "
                    + " ".join(f"{answered[wait]:>9}/10" for wait in SHORT_WAITS_MS),
                    flush=True,
                )


#: A changelog record's value in the whole-read runs (a customer state is ~780 bytes, bench.state_at_scale).
WHOLE_READ_VALUE = b"v" * 800
WHOLE_READ_FETCH_BYTES = 4 * 1024 * 1024


async def read_whole(client: AIOKafkaClient, node: int, topic: str, records: int, wait_ms: int) -> tuple[int, int, int]:
    """Read partition 0 of ``topic`` from offset 0 to ``records`` in 4 MiB requests waiting up to ``wait_ms``;
    (requests answered with records, bytes, empty answers). Gives up after 20 empty answers in a row."""
    offset = requests = received = empty = in_a_row = 0
    while offset < records:
        request = FetchRequest(wait_ms, 1, WHOLE_READ_FETCH_BYTES, 0, [(topic, [(0, offset, WHOLE_READ_FETCH_BYTES)])])
        raw = (await client.send(node, request)).topics[0][1][0][-1]
        batches, after = MemoryRecords(raw or b""), offset
        while (batch := batches.next_batch()) is not None:
            after = batch.next_offset
        if after == offset:  # the broker's listing of the partition outlasted the wait
            empty += 1
            in_a_row += 1
            if in_a_row == 20:
                print(f"# {topic}: 20 empty answers in a row at offset {offset} of {records}: given up", flush=True)
                break
            continue
        requests += 1
        in_a_row = 0
        received += len(raw or b"")
        offset = after
    return requests, received, empty


async def whole_reads(records: int, per_batch_counts: list[int], wait_ms: int) -> None:
    topics = {per_batch: f"whole-{per_batch}" for per_batch in per_batch_counts}
    async with one_partition_topics(list(topics.values())) as (pid, producer, client, node):
        print(
            f"{'records':>8} {'per batch':>9} {'batches':>8} {'requests':>8} {'MB/answer':>9} "
            f"{'broker CPU s':>12} {'ms/request':>10} {'newest-batch ms':>15} {'empty answers':>13}"
        )
        for per_batch, topic in topics.items():
            await grow_keyed(producer, topic, records, per_batch)
            before = cpu_seconds(pid)
            requests, received, empty = await read_whole(client, node, topic, records, wait_ms)
            cpu_s = cpu_seconds(pid) - before
            before = cpu_seconds(pid)
            last = (records - 1) // per_batch * per_batch  # the newest batch's base offset
            for _ in range(20):
                await newest_fetch(client, node, topic, last, max(wait_ms, LONG_WAIT_MS))
            newest_ms = (cpu_seconds(pid) - before) * 1000 / 20
            print(
                f"{records:>8} {per_batch:>9} {-(-records // per_batch):>8} {requests:>8} "
                f"{received / max(1, requests) / 1e6:>9.2f} {cpu_s:>12.2f} "
                f"{cpu_s * 1000 / max(1, requests):>10.1f} {newest_ms:>15.1f} {empty:>13}",
                flush=True,
            )


async def grow_keyed(producer: AIOKafkaProducer, topic: str, count: int, per_batch: int) -> None:
    """``count`` keyed changelog-sized records into partition 0, ``per_batch`` to a produce batch."""
    for start in range(0, count, per_batch):
        batch = producer.create_batch()
        for n in range(start, min(count, start + per_batch)):
            if batch.append(key=b"C%07d" % n, value=WHOLE_READ_VALUE, timestamp=None) is None:
                raise RuntimeError("a batch is full: raise the producer's max_batch_size")
        batch.close()
        await (await producer.send_batch(batch, topic, partition=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,5000,10000,20000,40000")
    parser.add_argument("--fetches", type=int, default=50)
    parser.add_argument("--whole-read", type=int, help="records of one partition read whole, as a restore reads")
    parser.add_argument("--batch-records", default="1,3,16,100,1000", help="records per batch, one run each")
    parser.add_argument("--wait-ms", type=int, default=500, help="the whole read's fetch wait (the bulk restore's)")
    args = parser.parse_args()
    if args.whole_read:
        asyncio.run(whole_reads(args.whole_read, [int(n) for n in args.batch_records.split(",")], args.wait_ms))
    else:
        asyncio.run(run([int(s) for s in args.sizes.split(",")], args.fetches))


if __name__ == "__main__":
    main()
