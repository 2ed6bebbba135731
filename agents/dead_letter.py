"""Route a record an agent cannot process to the dead-letter topic, with the reason and origin."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import faust

from agents import topics
from agents.metrics import worker_metrics
from detection.models import DeadLetter, FieldError

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
    worker_metrics.incr(f"dead_letter.{reason}")
    await topics.dead_letter.send(key=event.message.key, value=letter.model_dump_json().encode())


def error_of(exc: BaseException) -> list[FieldError]:
    """An unexpected exception as a dead-letter error list (the record goes aside, the worker goes on)."""
    return [FieldError(loc="", msg=f"{type(exc).__name__}: {exc}", type="internal_error")]
