"""Stream a CSV or JSONL file of transactions into the raw topic, as-is (bad lines get dead-lettered)."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

from producers.kafka import kafka_producer
from producers.progress import Progress


def raw_records(path: Path) -> Iterator[bytes]:
    """Each record's bytes. JSONL lines pass through untouched; CSV rows become JSON objects
    (empty cells omitted, values as text: the validator coerces them like any feed)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                yield json.dumps({k: v for k, v in row.items() if v not in (None, "")}).encode()
    else:
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield line.rstrip(b"\r\n")


def customer_key(raw: bytes) -> bytes | None:
    """Key by customer_id when the record is readable; unreadable ones still go in, unkeyed."""
    try:
        value = json.loads(raw)
        return str(value["customer_id"]).encode() if isinstance(value, dict) and "customer_id" in value else None
    except ValueError:
        return None


def count_records(path: Path) -> int:
    return sum(1 for _ in raw_records(path))


async def replay_file(path: Path, broker_url: str, topic: str, rate: float) -> int:
    """Send every record of ``path`` at ``rate`` records/s (0 = as fast as possible)."""
    progress = Progress(f"replay {path.name}", count_records(path))
    started = time.monotonic()
    sent = 0
    async with kafka_producer(broker_url) as producer:
        for raw in raw_records(path):
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await producer.send(topic, raw, key=customer_key(raw))
            sent += 1
            progress.advance()
        await producer.flush()
    progress.close()
    return sent
