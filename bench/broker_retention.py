"""Does the embedded broker ever drop a record? retention.ms / retention.bytes, compaction, DeleteRecords.

Creates a delete-policy topic with retention.ms=1000 and retention.bytes=1024 and a compacted
topic (10 keys written 10 times each), waits past Tansu's maintenance interval (10 minutes by
default), and reads both back; then asks the broker to delete the first half of the first topic
(the DeleteRecords API) and checks that the broker still answers.

    .venv/bin/python -m bench.broker_retention [--wait-s 660]
"""

from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete

from config.broker import bootstrap_servers
from runtime.broker import EmbeddedBroker
from runtime.topic_reader import read_all

RETAINED, COMPACTED = "retention-1s", "compacted"


async def run(wait_s: float) -> None:
    with EmbeddedBroker() as broker:
        servers = bootstrap_servers(broker.url)
        admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=10_000)
        await admin.start()
        await admin.create_topics(
            [
                NewTopic(
                    RETAINED,
                    1,
                    1,
                    topic_configs={"cleanup.policy": "delete", "retention.ms": "1000", "retention.bytes": "1024"},
                ),
                NewTopic(COMPACTED, 1, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
        producer = AIOKafkaProducer(bootstrap_servers=servers)
        await producer.start()
        for i in range(100):
            await producer.send_and_wait(RETAINED, b"x" * 100, key=b"%d" % i)
            await producer.send_and_wait(COMPACTED, b"version %d" % (i // 10), key=b"key-%d" % (i % 10))
        await producer.stop()
        print(f"wrote 100 records to each; waiting {wait_s:.0f} s past the broker's maintenance", flush=True)
        await asyncio.sleep(wait_s)
        for topic, expected in ((RETAINED, "0 if retention were applied"), (COMPACTED, "10 if compacted")):
            kept = len(await read_all(broker.url, topic))
            print(f"{topic}: {kept} of 100 records still readable ({expected})", flush=True)
        try:
            answer = await admin.delete_records({TopicPartition(RETAINED, 0): RecordsToDelete(50)}, timeout_ms=10_000)
            print(f"DeleteRecords answered: {answer}")
        except Exception as exc:  # the point is to see what the broker does with it
            print(f"DeleteRecords failed: {exc!r}")
        finally:
            await admin.close()
        alive = broker._process is not None and broker._process.poll() is None
        after = len(await read_all(broker.url, RETAINED, timeout_s=20)) if alive else None
        print(f"broker process still running: {alive}; {RETAINED} still holds {after} records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wait-s", type=float, default=660.0)
    args = parser.parse_args()
    asyncio.run(run(args.wait_s))


if __name__ == "__main__":
    main()
