"""raw transactions -> validated transactions, or the dead-letter topic with the reasons."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import error_of, send_to_dead_letter
from agents.metrics import worker_metrics
from config import get_settings
from detection.validation import Rejection, ValidationLimits, validate_transaction

logger = logging.getLogger(__name__)
settings = get_settings()
STAGE = "validate"
#: Header carrying the raw message's broker timestamp (ms), from which detection latency is measured.
INGESTED_AT_HEADER = "fraudwatch-ingested-at-ms"

limits = ValidationLimits(
    max_message_bytes=settings.max_message_bytes,
    max_amount=settings.max_amount,
    max_future_skew=timedelta(seconds=settings.max_future_skew_s),
    currencies=frozenset(settings.currencies),
)


@app.agent(topics.raw_transactions)
async def validate(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            await validate_one(event)
        except Exception as exc:  # a bad record must never stop the agent (Faust #175)
            logger.exception("validation failed unexpectedly at %s", event.message.tp)
            await send_to_dead_letter(event, "internal_error", error_of(exc), STAGE)


async def validate_one(event: faust.EventT[bytes]) -> None:
    result = validate_transaction(event.value, limits, datetime.now(UTC))
    if isinstance(result, Rejection):
        worker_metrics.incr("transactions.invalid")
        await send_to_dead_letter(event, result.reason, result.errors, STAGE)
        return
    worker_metrics.incr("transactions.valid")
    ingested_at_ms = int(event.message.timestamp * 1000)
    await topics.validated_transactions.send(
        key=result.customer_id.encode(),
        value=result.model_dump_json(exclude_none=True).encode(),
        headers={INGESTED_AT_HEADER: str(ingested_at_ms).encode()},
    )
