"""raw transactions -> validated transactions, or the dead-letter topic with the reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from agents import topics
from agents.app import app
from agents.dead_letter import process_guarded, send_to_dead_letter
from agents.metrics import worker_metrics
from config import get_settings
from config.limits import validation_limits
from detection.metrics import TRANSACTIONS_INVALID, TRANSACTIONS_VALID
from detection.validation import Rejection, validate_transaction

settings = get_settings()
STAGE = "validate"
#: Header carrying the raw message's broker timestamp (ms), from which detection latency is measured.
INGESTED_AT_HEADER = "fraudwatch-ingested-at-ms"

limits = validation_limits(settings)


@app.agent(topics.raw_transactions)
async def validate(stream: faust.StreamT[bytes]) -> None:
    await process_guarded(stream, validate_one, STAGE)


async def validate_one(event: faust.EventT[bytes]) -> None:
    result = validate_transaction(event.value, limits, datetime.now(UTC))
    if isinstance(result, Rejection):
        worker_metrics.incr(TRANSACTIONS_INVALID)
        await send_to_dead_letter(event, result.reason, result.errors, STAGE)
        return
    worker_metrics.incr(TRANSACTIONS_VALID)
    ingested_at_ms = int(event.message.timestamp * 1000)
    await topics.validated_transactions.send(
        key=result.customer_id.encode(),
        value=result.model_dump_json(exclude_none=True).encode(),
        headers={INGESTED_AT_HEADER: str(ingested_at_ms).encode()},
    )
