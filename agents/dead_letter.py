"""Route a record an agent cannot process to the dead-letter topic, with the reason and origin."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
import pydantic

from agents import topics
from agents.app import app
from agents.fatal import storage_failure
from agents.metrics import worker_metrics
from config import get_settings
from detection.metrics import Family, counter
from detection.models import DeadLetter, FieldError
from detection.validation import field_errors

logger = logging.getLogger(__name__)

#: The most of an original value (and key) an envelope carries. A 1 MiB record wrapped whole in base64
#: exceeds the producer's request limit, so the send failed and the record vanished; beyond this size
#: the envelope keeps the first bytes, the size and a SHA-256 of the whole value instead.
ORIGINAL_BYTES_KEPT = get_settings().max_message_bytes


def dead_letter_for(event: faust.EventT[bytes], reason: str, errors: list[FieldError], stage: str) -> DeadLetter:
    return dead_letter_of(event.message, reason, errors, stage)


def dead_letter_of(message: Any, reason: str, errors: list[FieldError], stage: str) -> DeadLetter:
    """From anything with a Kafka message's topic, partition, offset, key and value (Faust's or aiokafka's)."""
    value = message.value if isinstance(message.value, bytes) else b""
    key = message.key if isinstance(message.key, bytes) else None
    return DeadLetter(
        reason=reason,
        errors=errors,
        original_b64=base64.b64encode(value[:ORIGINAL_BYTES_KEPT]).decode(),
        original_key_b64=base64.b64encode(key[:ORIGINAL_BYTES_KEPT]).decode() if key is not None else None,
        original_size=len(value),
        original_sha256=hashlib.sha256(value).hexdigest(),
        original_truncated=len(value) > ORIGINAL_BYTES_KEPT,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        stage=stage,
        failed_at=datetime.now(UTC),
    )


async def send_to_dead_letter(event: faust.EventT[bytes], reason: str, errors: list[FieldError], stage: str) -> None:
    letter = dead_letter_for(event, reason, errors, stage)
    worker_metrics.incr(counter(Family.DEAD_LETTER, reason))
    key = event.message.key[:ORIGINAL_BYTES_KEPT] if isinstance(event.message.key, bytes) else None
    await topics.dead_letter.send(key=key, value=letter.model_dump_json().encode())


def error_of(exc: BaseException) -> list[FieldError]:
    """An unexpected exception as a dead-letter error list (the record goes aside, the worker goes on)."""
    return [FieldError(loc="", msg=f"{type(exc).__name__}: {exc}", type="internal_error")]


EventHandler = Callable[[faust.EventT[bytes]], Awaitable[None]]


async def handle_guarded(event: faust.EventT[bytes], handle: EventHandler, stage: str) -> bool:
    """``handle`` one event; False when it went to dead-letter instead.

    A pydantic error is the record's fault ("schema"); anything else is ours ("internal_error",
    logged with its traceback), except a data dir that cannot take writes, which stops the worker
    (agents.fatal). An agent that raises is restarted by Faust's supervisor every few
    seconds and its consumers slowly die (faust-streaming #175): never let one escape.

    Raises StorageFailureError (after crashing the app) when the data dir cannot take writes: the
    agent's loop must end there, so neither this event nor the ones after it (in a batch) are
    acknowledged and committed while the worker stops.
    """
    try:
        await handle(event)
        return True
    except pydantic.ValidationError as exc:
        await send_to_dead_letter(event, "schema", field_errors(exc), stage)
    except Exception as exc:
        fatal = storage_failure(exc)
        if fatal is not None:
            logger.critical("%s stops the worker: %s", stage, fatal)
            await app.crash(fatal)  # the worker exits non-zero; this record's offset is never committed
            raise fatal from exc
        logger.exception("%s failed unexpectedly at %s", stage, event.message.tp)
        await send_to_dead_letter(event, "internal_error", error_of(exc), stage)
    return False
