"""``fraudwatch cases list|show|assign|comment|status``: analysts' cases from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from faust.cli import AppCommand, option
from pydantic import ValidationError

from agents.app import app, broker_url
from config import get_settings
from detection.cases import Case, CaseCommand, CaseError, apply_command, select_cases
from producers.kafka import kafka_producer
from runtime.ops_cli import as_json, by_option, current_user, fail, refuse
from runtime.topic_reader import read_all

settings = get_settings()
ACTIONS = ("list", "show", "assign", "comment", "status")


async def all_cases() -> dict[str, Case]:
    """The latest state of every case on the compacted cases topic."""
    cases: dict[str, Case] = {}
    for record in await read_all(broker_url(settings), settings.topic_cases):
        if record.value is not None:
            case = Case.model_validate_json(record.value)
            cases[case.case_id] = case
    return cases


@app.command(
    click.argument("action", type=click.Choice(ACTIONS)),
    click.argument("case_id", required=False),
    click.argument("value", required=False),
    option("--status", "status_filter", default=None, help="list: open, investigating, closed, closed_fraud, ..."),
    option("--assignee", default=None, help="list: only cases assigned to this analyst."),
    option("--customer", default=None, help="list: only this customer's cases."),
    option("--limit", type=int, default=50, show_default=True),
    option("--offset", type=int, default=0, show_default=True),
    by_option,
)
async def cases(
    self: AppCommand,
    action: str,
    case_id: str | None,
    value: str | None,
    status_filter: str | None,
    assignee: str | None,
    customer: str | None,
    limit: int,
    offset: int,
    by: str | None,
) -> None:
    """Cases: list [--status --assignee --customer --limit --offset], show ID, assign ID WHO, comment ID TEXT,
    status ID investigating|closed_fraud|closed_not_fraud (closing sends the feedback)."""
    known = await all_cases()
    if action == "list":
        matched, total = select_cases(list(known.values()), status_filter, assignee, customer)
        page = matched[max(0, offset) : max(0, offset) + max(1, limit)]
        self.say(f"{total} cases match; showing {offset + 1 if page else 0}-{offset + len(page)}")
        for c in page:
            self.say(
                f"{c.case_id}  {c.status:<16} customer {c.customer_id}  alerts {len(c.alerts)}  max score "
                f"{c.max_score}  assignee {c.assignee or '-'}  updated {c.updated_at.isoformat(timespec='seconds')}"
            )
        return
    if case_id is None or case_id not in known:
        fail(f"no case {case_id!r} (see `fraudwatch cases list`)")
    case = known[case_id]
    if action == "show":
        self.say(json.dumps(json.loads(case.model_dump_json()), indent=2))
        return
    if value is None:
        refuse(f"cases {action} {case_id} needs a value (who, the text, or the new status)")
    try:
        command = CaseCommand.model_validate(
            {
                "case_id": case_id,
                "customer_id": case.customer_id,
                "action": action,
                "by": by or current_user(),
                "at": datetime.now(UTC),
                "assignee": value if action == "assign" else None,
                "text": value if action == "comment" else None,
                "status": value if action == "status" else None,
            }
        )
    except ValidationError as exc:
        refuse(f"cases {action} {case_id} {value}: {exc.errors()[0]['msg']}")
    try:
        apply_command(case, command)  # refuse here what the worker would refuse
    except CaseError as exc:
        refuse(str(exc))
    async with kafka_producer(broker_url(settings)) as producer:
        await producer.send_and_wait(settings.topic_case_commands, as_json(command), key=case.customer_id.encode())
    self.say(json.dumps({"case_id": case_id, "action": action, "value": value, "by": command.by}))
