"""Read API of the learning loop (docs/api.md): this worker's models, and a terminal's or merchant's activity."""

from __future__ import annotations

from faust.web import Request, Response, View

from agents.activity import load_activity
from agents.app import app
from agents.models import live_models
from detection.activity import DAY_S, HOUR_S, HOURS_PER_DAY
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
        per_day = {day: list(counts) for day, counts in activity.days.items()}
        for hour, counts in activity.hours.items():  # the newest days are kept per hour: totalled per day too
            total = per_day.setdefault(hour // HOURS_PER_DAY, [0, 0])
            total[0], total[1] = total[0] + counts[0], total[1] + counts[1]
        days = [{"day": day * DAY_S, "transactions": c[0], "frauds": c[1]} for day, c in sorted(per_day.items())]
        hours = [
            {"hour": hour * HOUR_S, "transactions": c[0], "frauds": c[1]} for hour, c in sorted(activity.hours.items())
        ]
        return self.json({"entity": entity, "days": days, "hours": hours, "frauds": sorted(activity.frauds)})
