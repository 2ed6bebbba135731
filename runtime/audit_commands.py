"""``fraudwatch audit SUBJECT``: why a transaction got its decision, or the history of a change."""

from __future__ import annotations

import json

import click
from faust.cli import AppCommand, option

from agents.app import app, broker_url
from config import get_settings
from detection.audit import AuditRecord, explain
from runtime.ops_cli import fail
from runtime.topic_reader import read_all

settings = get_settings()


async def audit_records(subject: str) -> list[AuditRecord]:
    """Every record about ``subject`` (a transaction id, rules version, list entry key or case id), oldest first,
    one per audit id (a replayed decision was written again with the same id)."""
    found: dict[str, AuditRecord] = {}
    key = subject.encode()
    for record in await read_all(broker_url(settings), settings.topic_audit):
        if record.key == key and record.value is not None:
            entry = AuditRecord.model_validate_json(record.value)
            found.setdefault(entry.audit_id, entry)
    return sorted(found.values(), key=lambda r: r.at)


@app.command(
    click.argument("subject"),
    option("--json", "as_json", is_flag=True, default=False, help="The audit records themselves, one JSON per line."),
)
async def audit(self: AppCommand, subject: str, as_json: bool) -> None:
    """Explain a decision (transaction id) or list the changes of a rules version, list entry or case."""
    records = await audit_records(subject)
    if not records:
        fail(f"nothing in the audit trail ({settings.topic_audit}) about {subject!r}")
    for record in records:
        self.say(json.dumps(json.loads(record.model_dump_json())) if as_json else explain(record) + "\n")
