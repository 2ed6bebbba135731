"""POST /api/score: a decision before the payment is authorised (docs/api.md).

Body: ``{"transaction": <the raw topic's contract>, "learn": true|false}``. ``learn`` must be
given: true sends the transaction into the stream (raw topic) so the customer's state learns it
like any event (an authorisation that the payment will follow); false only asks.
Any worker answers: a customer whose partition another worker holds is forwarded there.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from faust.web import Request, Response

from agents import topics
from agents.app import app
from agents.audit import ACTOR, audit_decision
from agents.broadcast import followed
from agents.decide import decide
from agents.metrics import worker_metrics
from agents.routing import answer_from_owner
from agents.tables import customer_behaviour
from agents.validate import limits
from agents.views import JsonView
from detection.metrics import Family, counter
from detection.validation import Rejection, validate_transaction


@app.page("/api/score")
class ScoreView(JsonView):
    async def post(self, request: Request) -> Response:
        started = time.perf_counter()
        body = await request.read()
        try:
            payload = json.loads(body)
            transaction_json, learn = _parse(payload)
        except ValueError as exc:
            return self.bad_request(str(exc))
        result = validate_transaction(transaction_json, limits, datetime.now(UTC))
        if isinstance(result, Rejection):
            return self.json(
                {
                    "error": "invalid transaction",
                    "reason": result.reason,
                    "errors": [e.model_dump() for e in result.errors],
                },
                status=422,
            )
        customer_key = result.customer_id.encode()
        if (
            owners_answer := await answer_from_owner(self, request, customer_behaviour, customer_key, body)
        ) is not None:
            return owners_answer
        await followed.ready()
        decided = decide(result, with_shadow=False)
        verdict = decided.verdict
        if learn:
            await topics.raw_transactions.send(key=customer_key, value=transaction_json)
        await audit_decision(result, decided, learned=learn, action="scored", wait=False)
        worker_metrics.incr(counter(Family.DECISION_API, verdict.action))
        decision = verdict.decision
        return self.json(
            {
                "transaction_id": result.transaction_id,
                "customer_id": result.customer_id,
                "decision": verdict.action,
                "score": decision.score,
                "severity": decision.severity,
                "reasons": [json.loads(r.model_dump_json()) for r in decision.reasons],
                "anomaly_score": round(decision.anomaly, 4),
                "would_alert": verdict.publish,
                "listed": verdict.listed,
                "rules_version": decided.detector.rules_version,
                "model_version": decision.model_version,
                "learned": learn,
                "worker": ACTOR,
                "took_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )


def _parse(payload: Any) -> tuple[bytes, bool]:
    if not isinstance(payload, dict) or not isinstance(payload.get("transaction"), dict):
        raise ValueError('body must be {"transaction": {...}, "learn": true|false}')
    learn = payload.get("learn")
    if not isinstance(learn, bool):
        raise ValueError('"learn" must be given, true or false: should the customer\'s state learn this transaction?')
    return json.dumps(payload["transaction"]).encode(), learn
