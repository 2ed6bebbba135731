"""What the ops commands (rules, lists, audit, cases) share: who is acting, and sending with an audit record."""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from faust.cli import option

from config import Settings
from detection.audit import AuditKind, audit_message, change_record
from detection.models import Contract
from producers.kafka import kafka_producer


def current_user() -> str:
    try:
        return os.environ.get("FRAUDWATCH_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


by_option = option("--by", default=None, help="Who makes the change (audit trail); default: the OS user.")
reason_option = option("--reason", default=None, help="Why (audit trail); required for every change.")


def fail(message: str) -> NoReturn:
    """Print why to stderr and exit with status 2, without Faust's traceback for a crash."""
    click.echo(f"fraudwatch: {message}", err=True)
    raise SystemExit(2)


def refuse(message: str) -> NoReturn:
    fail(f"refused, nothing written: {message}")


def require_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        refuse("--reason is required: the audit trail records why every change was made")
    return reason.strip()


class Change:
    """Records for one topic plus the audit record of the change, sent in order and acknowledged."""

    def __init__(self, settings: Settings, broker_url: str) -> None:
        self.settings = settings
        self.broker_url = broker_url

    async def send(
        self,
        topic: str,
        records: Sequence[tuple[bytes, bytes | None]],
        *,
        kind: AuditKind,
        subject: str,
        action: str,
        actor: str,
        reason: str,
        details: dict[str, Any],
    ) -> int:
        """Returns the offset of the last record written to ``topic``."""
        audit = change_record(kind, subject, action, actor, datetime.now(UTC), reason, details)
        offset = -1
        async with kafka_producer(self.broker_url) as producer:
            for key, value in records:
                metadata = await producer.send_and_wait(topic, value, key=key)
                offset = metadata.offset
            audit_key, audit_value = audit_message(audit)
            await producer.send_and_wait(self.settings.topic_audit, audit_value, key=audit_key)
        return offset


def as_json(record: Contract) -> bytes:
    return record.model_dump_json(exclude_none=True).encode()
