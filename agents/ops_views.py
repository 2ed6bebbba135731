"""GET /api/rules and GET /api/lists: what this worker decides with right now (docs/api.md)."""

from __future__ import annotations

import json

from faust.web import Request, Response

from agents.app import app
from agents.live_lists import list_book, lists_reader
from agents.live_rules import live_rules, rules_reader
from agents.models import live_models
from agents.tables import open_cases
from agents.views import JsonView, page_of
from detection.cases import Case, select_cases


@app.page("/api/rules")
class RulesView(JsonView):
    async def get(self, request: Request) -> Response:
        shadow = live_rules.shadow
        return self.json(
            {
                "active": {
                    "rules_version": live_models.detector.rules_version,
                    "switched_at_offset": live_rules.active_offset,
                    "decision_bands": live_models.detector.config.decision.model_dump(),
                    "alert_threshold": live_models.detector.config.alert_threshold,
                },
                "shadow": None
                if shadow is None
                else {"rules_version": shadow.rules_version, "switched_at_offset": live_rules.shadow_offset},
                "published": sorted(live_rules.book.rule_sets),
                "switches": [
                    {
                        "role": s.role,
                        "rules_version": s.rules_version,
                        "offset": s.offset,
                        "by": s.changed_by,
                        "reason": s.reason,
                    }
                    for s in live_rules.switches
                ],
                "caught_up": rules_reader.caught_up.is_set(),
                "records_rejected": rules_reader.failed,
            }
        )


@app.page("/api/lists")
class ListsView(JsonView):
    """Allow-list and suppression entries this worker applies; ?list=allow&scope=customer filter."""

    async def get(self, request: Request) -> Response:
        wanted_list, scope = request.query.get("list"), request.query.get("scope")
        entries = [
            json.loads(entry.model_dump_json())
            for entry in list_book.entries()
            if (wanted_list is None or entry.list == wanted_list) and (scope is None or entry.scope == scope)
        ]
        try:
            return self.json({"caught_up": lists_reader.caught_up.is_set(), **page_of(entries, request)})
        except ValueError as exc:
            return self.bad_request(str(exc))


@app.page("/api/cases")
class OpenCasesView(JsonView):
    """Open cases of the customers on this worker, newest change first; ?status=&assignee=&customer= filter.
    Closed cases leave the worker's table: `fraudwatch cases list` reads every case from the cases topic."""

    async def get(self, request: Request) -> Response:
        status, assignee, customer = (request.query.get(name) for name in ("status", "assignee", "customer"))
        cases = [Case.model_validate_json(value) for value in open_cases.values()]
        page, _ = select_cases(cases, status, assignee, customer)
        try:
            return self.json(page_of([json.loads(case.model_dump_json()) for case in page], request))
        except ValueError as exc:
            return self.bad_request(str(exc))
