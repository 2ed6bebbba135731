"""Route a record an agent cannot process to the dead-letter topic, with the reason and origin."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import faust
import pydantic

from agents import topics
from agents.metrics import worker_metrics
from detection.metrics import Family, counter
from detection.models import DeadLetter, FieldError
from detection.validation import field_errors

logger = logging.getLogger(__name__)


def dead_letter_for(event: faust.EventT[bytes], reason: str, errors: list[FieldError], stage: str) -> DeadLetter:
    message = event.message
    value = message.value if isinstance(message.value, bytes) else b""
    key = message.key if isinstance(message.key, bytes) else None
    return DeadLetter(
        reason=reason,
        errors=errors,
        original_b64=base64.b64encode(value).decode(),
        original_key_b64=base64.b64encode(key).decode() if key is not None else None,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        stage=stage,
        failed_at=datetime.now(UTC),
    )


async def send_to_dead_letter(event: faust.EventT[bytes], reason: str, errors: list[FieldError], stage: str) -> None:
    letter = dead_letter_for(event, reason, errors, stage)
    worker_metrics.incr(counter(Family.DEAD_LETTER, reason))
    await topics.dead_letter.send(key=event.message.key, value=letter.model_dump_json().encode())


def error_of(exc: BaseException) -> list[FieldError]:
    """An unexpected exception as a dead-letter error list (the record goes aside, the worker goes on)."""
    return [FieldError(loc="", msg=f"{type(exc).__name__}: {exc}", type="internal_error")]


EventHandler = Callable[[faust.EventT[bytes]], Awaitable[None]]


async def process_guarded(stream: faust.StreamT[bytes], handle: EventHandler, stage: str) -> None:
    """Run ``handle`` on every event; a record it cannot take goes to dead-letter and the agent goes on.

    A pydantic error is the record's fault ("schema"); anything else is ours ("internal_error",
    logged with its traceback). An agent that raises is restarted by Faust's supervisor every few
    seconds and its consumers slowly die (faust-streaming #175): never let one escape.
    """
    async for event in stream.events():
        await handle_guarded(event, handle, stage)


async def handle_guarded(event: faust.EventT[bytes], handle: EventHandler, stage: str) -> bool:
    """``handle`` one event (see process_guarded); False when it went to dead-letter instead."""
    try:
        await handle(event)
        return True
    except pydantic.ValidationError as exc:
        await send_to_dead_letter(event, "schema", field_errors(exc), stage)
    except Exception as exc:
        logger.exception("%s failed unexpectedly at %s", stage, event.message.tp)
        await send_to_dead_letter(event, "internal_error", error_of(exc), stage)
    return False
