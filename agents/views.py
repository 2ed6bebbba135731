"""Read API on the worker's web server (JSON; docs/api.md).

Any worker answers for any customer: a request for a customer whose partition another worker
holds is forwarded to that worker once (agents.routing). A 404 says the customer is unknown (or,
during a rebalance, not yet on the worker that owns it).
"""

from __future__ import annotations

import json
import math
from typing import Any

from faust.web import Request, Response, View

from agents.app import app
from agents.detect import recent_alerts
from agents.models import live_models
from agents.routing import answer_from_owner
from agents.state_access import load_merchant_risk, load_reference
from agents.tables import customer_behaviour
from detection.alert import mask
from detection.models import Customer
from detection.reference import merchant_key, terminal_key
from detection.state import CustomerState, decode_state

MAX_PAGE = 500


def page_of(items: list[Any], request: Request) -> dict[str, Any]:
    """?limit=&offset= pagination; ``next_offset`` is null on the last page."""
    try:
        limit = min(MAX_PAGE, max(1, int(request.query.get("limit", 50))))
        offset = max(0, int(request.query.get("offset", 0)))
    except ValueError as exc:
        raise ValueError("limit and offset must be whole numbers") from exc
    chunk = items[offset : offset + limit]
    return {
        "items": chunk,
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < len(items) else None,
    }


def public_profile(profile: Customer) -> dict[str, Any]:
    """A profile as it may leave the worker: the account number masked, as in alerts and emails."""
    answer: dict[str, Any] = json.loads(profile.model_dump_json(exclude={"account_number"}))
    answer["account_number_masked"] = mask(profile.account_number)
    return answer


def _customer_state(customer_id: str) -> CustomerState | None:
    raw = customer_behaviour.get(customer_id.encode())
    return decode_state(raw)[0] if raw is not None else None  # an old layout reads as the detector sees it


class JsonView(View):
    def not_found(self, what: str) -> Response:
        return self.json({"error": f"{what} not found", "reason": "unknown, or not on this worker"}, status=404)

    def bad_request(self, message: str) -> Response:
        return self.json({"error": message}, status=400)


class CustomerView(JsonView):
    """A view of one customer's tables, answered by the worker that holds the customer's partition."""

    async def get(self, request: Request, customer_id: str) -> Response:
        owners_answer = await answer_from_owner(self, request, customer_behaviour, customer_id.encode())
        return owners_answer if owners_answer is not None else await self.answer(request, customer_id)

    async def answer(self, request: Request, customer_id: str) -> Response:
        raise NotImplementedError


@app.page("/api/customers/{customer_id}")
class CustomerProfileView(CustomerView):
    """A customer's profile, reference data and a summary of current behaviour."""

    async def answer(self, request: Request, customer_id: str) -> Response:
        state = _customer_state(customer_id)
        reference = load_reference(customer_id.encode())
        if state is None and reference is None:
            return self.not_found(f"customer {customer_id}")
        summary = None
        if state is not None:
            summary = {
                "transactions_seen": state.transactions_seen,
                "first_seen": state.first_seen,
                "last_seen": state.last_seen,
                "typical_amount_eur": round(math.exp(state.log_amount_mean), 2) if state.transactions_seen else None,
                "countries": sorted(state.countries),
                "devices": len(state.devices),
                "recent_transactions": len(state.recent),
            }
        return self.json(
            {
                "customer_id": customer_id,
                "profile": public_profile(reference.profile) if reference and reference.profile else None,
                "behaviour": summary,
                "reference": json.loads(reference.model_dump_json(exclude={"profile"})) if reference else None,
            }
        )


@app.page("/api/customers/{customer_id}/transactions")
class CustomerTransactionsView(CustomerView):
    """Transactions recently seen for a customer, newest first, with the score each got."""

    async def answer(self, request: Request, customer_id: str) -> Response:
        state = _customer_state(customer_id)
        if state is None:
            return self.not_found(f"customer {customer_id}")
        items = [item._asdict() for item in reversed(state.recent)]
        try:
            return self.json(page_of(items, request))
        except ValueError as exc:
            return self.bad_request(str(exc))


@app.page("/api/customers/{customer_id}/reference")
class CustomerReferenceView(CustomerView):
    """Blacklist entry, credit score, fraud reports and confirmed frauds of a customer."""

    async def answer(self, request: Request, customer_id: str) -> Response:
        reference = load_reference(customer_id.encode())
        if reference is None:
            return self.not_found(f"reference data for {customer_id}")
        return self.json(json.loads(reference.model_dump_json(exclude={"profile"})))


@app.page("/api/merchants/{merchant_id}/risk")
class MerchantRiskView(JsonView):
    """Confirmed frauds at a merchant (and at a terminal with ?terminal_id=)."""

    async def get(self, request: Request, merchant_id: str) -> Response:
        merchant = load_merchant_risk(merchant_key(merchant_id))
        terminal_id = request.query.get("terminal_id")
        terminal = load_merchant_risk(terminal_key(terminal_id)) if terminal_id else None
        return self.json(
            {
                "merchant_id": merchant_id,
                "merchant_confirmed_frauds": merchant.confirmed_frauds if merchant else [],
                "terminal_id": terminal_id,
                "terminal_confirmed_frauds": terminal.confirmed_frauds if terminal else [],
            }
        )


@app.page("/api/alerts")
class RecentAlertsView(JsonView):
    """Alerts this worker published most recently, newest first; ?severity=high&rule=VELOCITY filter."""

    async def get(self, request: Request) -> Response:
        severity = request.query.get("severity")
        rule = request.query.get("rule")
        alerts = [
            json.loads(alert.model_dump_json())
            for alert in recent_alerts
            if (severity is None or alert.severity == severity)
            and (rule is None or any(reason.code == rule for reason in alert.reasons))
        ]
        try:
            return self.json({"rules_version": live_models.detector.rules_version, **page_of(alerts, request)})
        except ValueError as exc:
            return self.bad_request(str(exc))
