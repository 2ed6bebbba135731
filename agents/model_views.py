"""Read API of the learning loop (docs/api.md): this worker's models, and a terminal's or merchant's activity."""

from __future__ import annotations

from faust.web import Request, Response, View

from agents.activity import load_activity
from agents.app import app
from agents.models import live_models
from detection.activity import DAY_S
from detection.reference import merchant_key, terminal_key


@app.page("/api/models")
class ModelsView(View):
    """The champion and shadow this worker scores with, and the registry it folded from the models topic."""

    async def get(self, request: Request) -> Response:
        registry = live_models.registry
        return self.json(
            {
                "champion": live_models.champion_version,
                "shadow": live_models.shadow.version if live_models.shadow else None,
                "published": sorted(registry.artifacts),
                "history": [event.model_dump(mode="json") for event in registry.events],
            }
        )


@app.page("/api/activity/{kind}/{entity_id}")
class ActivityView(View):
    """Transactions and confirmed frauds per UTC day of one terminal or merchant (the global table)."""

    async def get(self, request: Request, kind: str, entity_id: str) -> Response:
        if kind not in ("terminal", "merchant"):
            return self.json({"error": "kind must be 'terminal' or 'merchant'"}, status=400)
        entity = terminal_key(entity_id) if kind == "terminal" else merchant_key(entity_id)
        activity = load_activity(entity)
        if activity is None:
            return self.json({"error": f"{entity} not found", "reason": "no activity recorded"}, status=404)
        days = [
            {"day": day * DAY_S, "transactions": counts[0], "frauds": counts[1]}
            for day, counts in sorted(activity.days.items())
        ]
        return self.json({"entity": entity, "days": days, "frauds": sorted(activity.frauds)})
