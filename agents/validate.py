"""raw transactions -> validated transactions (and detection), or the dead-letter topic with the reasons.

Every valid transaction is written to ``transactions.validated`` for its consumers. One that
arrived on its customer's partition (keyed by customer_id with Kafka's default partitioner, as
the generator and replay produce) is detected in the same pass, in this agent: the detect
agent's tables live on that partition. The rest go to ``transactions.rekeyed``, keyed by
customer, where the detect agent picks them up. So a transaction costs one pass through Faust
instead of two, and the validated JSON is never encoded and parsed again on the way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import faust

from agents import topics
from agents.app import app
from agents.batching import Event, observe_batch, process_in_batches
from agents.dead_letter import send_to_dead_letter
from agents.detect import STAGE as DETECT_STAGE
from agents.detect import Incoming, detect_transactions
from agents.metrics import worker_metrics
from agents.partitioning import key_partition
from agents.topics import INGESTED_AT_HEADER
from config import get_settings
from config.limits import validation_limits
from detection.metrics import TRANSACTIONS_INVALID, TRANSACTIONS_VALID
from detection.validation import Rejection, validate_transaction
from tables.batched import Outbound, send_with_batch

__all__ = ["INGESTED_AT_HEADER", "validate", "validate_records"]

settings = get_settings()
STAGE = "validate"
VALIDATED = topics.validated_transactions.get_topic_name()
REKEYED = topics.rekeyed_transactions.get_topic_name()

limits = validation_limits(settings)


@app.agent(topics.raw_transactions)
async def validate(stream: faust.StreamT[bytes]) -> None:
    await process_in_batches(
        stream, validate_records, STAGE, max_events=settings.batch_max_events, within_s=settings.batch_within_s
    )


async def validate_records(events: Sequence[Event]) -> None:
    now = datetime.now(UTC)
    detect_here: list[Incoming] = []
    for event in events:
        result = validate_transaction(event.value, limits, now)
        if isinstance(result, Rejection):
            worker_metrics.incr(TRANSACTIONS_INVALID)
            await send_to_dead_letter(event, result.reason, result.errors, STAGE)
            continue
        worker_metrics.incr(TRANSACTIONS_VALID)
        customer_key = result.customer_id.encode()
        ingested_at = event.message.timestamp
        headers = {INGESTED_AT_HEADER: str(int(ingested_at * 1000)).encode()}
        value = result.model_dump_json(exclude_none=True).encode()
        send_with_batch(Outbound(VALIDATED, customer_key, value, headers=headers))
        if on_customer_partition(event, customer_key):
            detect_here.append(Incoming(event, result, datetime.fromtimestamp(ingested_at, UTC)))
        else:
            send_with_batch(Outbound(REKEYED, customer_key, value, headers=headers))
    started = time.perf_counter()
    await detect_transactions(detect_here)
    observe_batch(DETECT_STAGE, len(detect_here), time.perf_counter() - started)


def on_customer_partition(event: Event, customer_key: bytes) -> bool:
    """Whether the record sits where Kafka's default (murmur2) partitioner puts the customer's key."""
    message = event.message
    return message.key == customer_key and message.partition == customer_partition(customer_key)


def customer_partition(customer_key: bytes) -> int:
    """The partition of a customer-keyed topic or table that holds ``customer_key`` (aiokafka's DefaultPartitioner)."""
    return key_partition(customer_key, settings.partitions)
