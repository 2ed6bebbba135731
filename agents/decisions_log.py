"""The decisions log: decisions topic -> decisions table (for the feedback join) and terminal/merchant counts.

Batched (``FRAUDWATCH_ACTIVITY_BATCH_SIZE`` / ``_S``): a batch of decisions becomes one delta per
terminal and merchant, sent as one record on the one-partition activity topic. The batch's table writes (their changelog records) and deltas go out together when it
is done (agents.batching); offsets commit after they are stored, so a crash replays the batch and
loses nothing; the offset counted up to, kept per partition in the table,
keeps a replayed batch from being counted twice. Each batch also sweeps a slice of each of its
partitions for decisions older than the chargeback horizon (agents.retention): their tombstones go
out with the batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import faust
from faust.streams import _current_event

from agents import topics
from agents.activity import activity_message
from agents.app import app
from agents.batching import process_in_batches
from agents.dead_letter import handle_guarded
from agents.metrics import worker_metrics
from agents.retention import TableSweeper
from agents.tables import decisions
from config import get_settings
from detection.decisions import DecisionRecord, activity_deltas
from detection.metrics import DECISIONS_LOGGED
from tables.batched import Outbound, send_with_batch
from tables.decisions import decisions_retention

settings = get_settings()
STAGE = "decisions"
expired_decisions = TableSweeper(decisions, decisions_retention(settings), settings.table_sweep_batch)


#: Per partition, in the decisions table: the highest decisions-topic offset already counted into
#: terminal/merchant activity. A batch redelivered after a rebalance or crash (at least once) is
#: logged again (idempotent) but not counted again.
def counted_key(partition: int) -> bytes:
    return b"\x00counted-offset:%d" % partition


@app.agent(topics.decisions)
async def log_decisions(stream: faust.StreamT[bytes]) -> None:
    await process_in_batches(
        stream, log_batch, STAGE, max_events=settings.activity_batch_size, within_s=settings.activity_batch_s
    )


async def log_batch(batch: Sequence[faust.EventT[bytes]]) -> None:
    """The batch's table writes (changelog records), tombstones and activity deltas go out with it (agents.batching)."""
    fresh: list[DecisionRecord] = []
    for partition, events in _by_partition(batch).items():
        as_current(events[0])
        counted = int(decisions.get(counted_key(partition)) or -1)
        for event in events:
            as_current(event)
            record = await _log_guarded(event)
            if record is not None:
                expired_decisions.observe(partition, record.ts)
                if event.message.offset > counted:
                    fresh.append(record)
        expired_decisions.sweep(partition, written=len(events))
    worker_metrics.incr(DECISIONS_LOGGED, len(fresh))
    deltas = activity_deltas(fresh)
    if deltas:
        key, value = activity_message(deltas)
        send_with_batch(Outbound(topics.entity_activity.get_topic_name(), key, value))
    for partition, events in _by_partition(batch).items():
        as_current(events[-1])
        decisions[counted_key(partition)] = str(events[-1].message.offset).encode()


def as_current(event: faust.EventT[bytes]) -> None:
    """Make ``event`` the current event of this task: a table read or write goes to its partition.

    take_events buffers in a background task, so this agent's task has no current event of its
    own. Only the context variable is set: the stream's ``current_event`` attribute belongs to the
    background reader, which reads it for the record it is about to buffer.
    """
    _current_event.set(weakref.ref(event))


def _by_partition(batch: Sequence[faust.EventT[bytes]]) -> dict[int, list[faust.EventT[bytes]]]:
    partitions: dict[int, list[faust.EventT[bytes]]] = {}
    for event in batch:
        partitions.setdefault(event.message.partition, []).append(event)
    return partitions


async def _log_guarded(event: faust.EventT[bytes]) -> DecisionRecord | None:
    logged: list[DecisionRecord] = []

    async def log_one(event: faust.EventT[bytes]) -> None:
        record = DecisionRecord.model_validate_json(event.value)
        decisions[record.transaction_id.encode()] = record.model_dump_json(exclude={"feature_vector"}).encode()
        logged.append(record)

    await handle_guarded(event, log_one, STAGE)
    return logged[0] if logged else None


def load_decision(transaction_id: str) -> DecisionRecord | None:
    """The logged decision of a transaction in the current event's (customer's) partition, if still kept."""
    raw = decisions.get(transaction_id.encode())
    return DecisionRecord.model_validate_json(raw) if raw is not None else None
