"""The decisions log: decisions topic -> decisions table (for the feedback join) and terminal/merchant counts.

Batched (``FRAUDWATCH_ACTIVITY_BATCH_SIZE`` / ``_S``): a batch of decisions becomes one activity
delta per terminal and merchant on the one-partition activity topic, instead of one record per
transaction. Offsets are acknowledged after the batch's table writes and sends, so a crash
replays the batch (counts are at least once, like every effect here) and loses nothing.
"""

from __future__ import annotations

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import handle_guarded, process_guarded
from agents.metrics import worker_metrics
from agents.tables import decisions, entity_activity
from config import get_settings
from detection.activity import EntityActivity
from detection.decisions import DecisionRecord, EntityActivityDelta, activity_deltas, apply_activity_delta

settings = get_settings()
STAGE = "decisions"


@app.agent(topics.decisions)
async def log_decisions(stream: faust.StreamT[bytes]) -> None:
    logged: list[DecisionRecord] = []

    async def log_one(event: faust.EventT[bytes]) -> None:
        record = DecisionRecord.model_validate_json(event.value)
        decisions[record.transaction_id.encode()] = record.model_dump_json(exclude={"feature_vector"}).encode()
        logged.append(record)

    batches = stream.take_events(settings.activity_batch_size, within=settings.activity_batch_s)  # type: ignore[attr-defined]
    async for batch in batches:
        logged.clear()
        for event in batch:
            # A table write goes to the partition of the stream's *current* event: make it this one.
            stream._set_current_event(event)  # type: ignore[attr-defined]
            await handle_guarded(event, log_one, STAGE)
        worker_metrics.incr("decisions.logged", len(logged))
        for delta in activity_deltas(logged):
            await send_activity(delta)


async def send_activity(delta: EntityActivityDelta) -> None:
    await topics.entity_activity.send(key=delta.entity.encode(), value=delta.model_dump_json().encode())


def load_decision(transaction_id: str) -> DecisionRecord | None:
    """The logged decision of a transaction in the current event's (customer's) partition, if still kept."""
    raw = decisions.get(transaction_id.encode())
    return DecisionRecord.model_validate_json(raw) if raw is not None else None


@app.agent(topics.entity_activity)
async def update_entity_activity(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, apply_activity_event, STAGE)


async def apply_activity_event(event: faust.EventT[bytes]) -> None:
    delta = EntityActivityDelta.model_validate_json(event.value)
    activity = load_activity(delta.entity) or EntityActivity()
    apply_activity_delta(activity, delta)
    entity_activity[delta.entity.encode()] = activity.to_json()


def load_activity(entity: str) -> EntityActivity | None:
    raw = entity_activity.get(entity.encode())
    return EntityActivity.from_json(raw) if raw is not None else None
