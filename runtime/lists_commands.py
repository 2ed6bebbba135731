"""``fraudwatch lists add|remove|show``: allow-list and suppression entries (docs/operations.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click
from faust.cli import AppCommand, option

from agents.app import app, broker_url
from config import get_settings
from detection.lists import ListBook, ListEntry, describe, entry_key
from detection.rules import RuleCode
from runtime.ops_cli import Change, as_json, by_option, current_user, reason_option, refuse, require_reason
from runtime.topic_reader import read_all

settings = get_settings()
RULE_CODES = frozenset(code.value for code in RuleCode)
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_expiry(text: str | None, now: datetime) -> datetime | None:
    """'2h', '30m', '7d' from now, or an ISO 8601 time with a zone; None = no expiry."""
    if text is None:
        return None
    match = DURATION.match(text.strip())
    if match:
        return now + timedelta(seconds=float(match.group(1)) * UNIT_S[match.group(2)])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        refuse(f"--expires {text!r}: give a duration (30m, 2h, 7d) or an ISO 8601 time with a zone")
    if when.tzinfo is None:
        refuse(f"--expires {text!r}: give the time zone (e.g. 2026-12-01T00:00:00+00:00)")
    return when


async def current_lists() -> ListBook:
    book = ListBook()
    for record in await read_all(broker_url(settings), settings.topic_lists):
        key = record.key.decode() if record.key else ""
        if record.value is None:
            book.remove(key)
        else:
            book.put(ListEntry.model_validate_json(record.value))
    return book


@app.command(
    click.argument("action", type=click.Choice(("add", "remove", "show"))),
    click.argument("list_name", required=False, type=click.Choice(("allow", "suppress"))),
    click.argument("scope", required=False, type=click.Choice(("customer", "merchant", "terminal"))),
    click.argument("entity_id", required=False),
    option("--rule", default=None, help=f"Only this rule ({', '.join(sorted(RULE_CODES))}); default: every rule."),
    option("--expires", default=None, help="Duration from now (30m, 2h, 7d) or ISO 8601 time; default: never."),
    by_option,
    reason_option,
)
async def lists(
    self: AppCommand,
    action: str,
    list_name: str | None,
    scope: str | None,
    entity_id: str | None,
    rule: str | None,
    expires: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Allow lists and suppression: add|remove allow|suppress customer|merchant|terminal ID [--rule] [--expires]."""
    if action == "show":
        for entry in (await current_lists()).entries():
            self.say(describe(entry) + f"  (by {entry.created_by}, {entry.created_at.isoformat(timespec='seconds')})")
        return
    if list_name is None or scope is None or not entity_id:
        refuse(f"lists {action} needs LIST (allow|suppress), SCOPE (customer|merchant|terminal) and the ID")
    code = rule.upper() if rule else None
    if code is not None and code not in RULE_CODES:
        refuse(f"--rule {rule}: no such rule (rules: {', '.join(sorted(RULE_CODES))})")
    why, who, now = require_reason(reason), by or current_user(), datetime.now(UTC)
    key = entry_key(list_name, scope, entity_id, code)
    value: bytes | None = None
    if action == "add":
        entry = ListEntry(
            list=list_name,  # type: ignore[arg-type]
            scope=scope,  # type: ignore[arg-type]
            entity_id=entity_id,
            rule=code,
            reason=why,
            expires_at=parse_expiry(expires, now),
            created_by=who,
            created_at=now,
        )
        value = as_json(entry)
        details = json.loads(value)
    else:
        if key not in {e.key for e in (await current_lists()).entries()}:
            refuse(f"no entry {key} (see `fraudwatch lists show`)")
        details = {"removed": key}
    offset = await Change(settings, broker_url(settings)).send(
        settings.topic_lists,
        [(key.encode(), value)],  # a null value (tombstone) removes the entry
        kind="list",
        subject=key,
        action="added" if action == "add" else "removed",
        actor=who,
        reason=why,
        details=details,
    )
    self.say(json.dumps({"action": action, "key": key, "offset": offset, "by": who, "reason": why}))
