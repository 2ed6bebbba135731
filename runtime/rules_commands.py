"""``fraudwatch rules publish FILE | list | rollback VERSION | activate VERSION | unshadow``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from faust.cli import AppCommand, option

from agents.app import app, broker_url
from config import get_settings
from config.rules import RulesFileError, load_rules
from detection.rule_sets import (
    RULES_RECORD,
    Role,
    RuleBook,
    UnknownRuleSetError,
    pointer_message,
    publish_messages,
)
from runtime.ops_cli import Change, by_option, current_user, reason_option, refuse, require_reason
from runtime.topic_reader import read_all

settings = get_settings()
ACTIONS = ("publish", "list", "rollback", "activate", "unshadow")


async def current_book() -> tuple[RuleBook, list[int]]:
    """The rules topic as a worker sees it; with the offsets of the records read."""
    book = RuleBook(load_rules(settings.rules_file))
    offsets = []
    for record in await read_all(broker_url(settings), settings.topic_rules):
        if record.value is not None:
            book.apply(RULES_RECORD.validate_json(record.value), record.offset)
            offsets.append(record.offset)
    return book, offsets


@app.command(
    click.argument("action", type=click.Choice(ACTIONS)),
    click.argument("target", required=False),
    option("--shadow", is_flag=True, default=False, help="publish: run it beside the active set, alerting nothing."),
    by_option,
    reason_option,
)
async def rules(
    self: AppCommand, action: str, target: str | None, shadow: bool, by: str | None, reason: str | None
) -> None:
    """Rule sets changed live: publish FILE [--shadow], list, rollback VERSION, activate VERSION, unshadow."""
    who = by or current_user()
    book, _ = await current_book()
    change = Change(settings, broker_url(settings))
    if action == "list":
        for line in _listing(book):
            self.say(line)
        return
    why = require_reason(reason)
    if action == "publish":
        if target is None:
            refuse("rules publish needs the rules FILE")
        try:
            config = load_rules(Path(target), environ={})  # the file alone is the rule set
        except RulesFileError as exc:
            refuse(str(exc))
        role: Role = "shadow" if shadow else "active"
        records = publish_messages(book, config, role, who, why, datetime.now(UTC))
        offset = await change.send(
            settings.topic_rules,
            records,
            kind="rules",
            subject=config.rules_version,
            action="published as " + role,
            actor=who,
            reason=why,
            details={"role": role, "rules_version": config.rules_version, "file": str(target)},
        )
    elif action in ("rollback", "activate"):
        if target is None:
            refuse(f"rules {action} needs a VERSION (see `fraudwatch rules list`)")
        try:
            config = book.config_of(target)
        except UnknownRuleSetError as exc:
            refuse(str(exc))
        records = publish_messages(book, config, "active", who, why, datetime.now(UTC))
        offset = await change.send(
            settings.topic_rules,
            records,
            kind="rules",
            subject=target,
            action="rolled back to" if action == "rollback" else "activated",
            actor=who,
            reason=why,
            details={"role": "active", "rules_version": target, "previous": book.version_of("active")},
        )
    else:  # unshadow
        stopped = book.version_of("shadow")
        if stopped is None:
            refuse("no shadow rule set runs")
        offset = await change.send(
            settings.topic_rules,
            [pointer_message("shadow", None, who, why, datetime.now(UTC))],
            kind="rules",
            subject=stopped,
            action="shadow stopped",
            actor=who,
            reason=why,
            details={"role": "shadow", "rules_version": None},
        )
    self.say(json.dumps({"action": action, "offset": offset, "by": who, "reason": why, "target": target}))


def _listing(book: RuleBook) -> list[str]:
    active, shadow = book.version_of("active"), book.version_of("shadow")
    lines = []
    if active == book.default.rules_version:
        lines.append(f"{active}  ACTIVE  (the rules file; nothing activated on the rules topic)")
    for version, published in sorted(book.rule_sets.items(), key=lambda item: item[1].published_at):
        mark = "ACTIVE" if version == active else "SHADOW" if version == shadow else "      "
        lines.append(
            f"{version}  {mark}  published {published.published_at.isoformat(timespec='seconds')} "
            f"by {published.published_by}: {published.reason}"
        )
    return lines
