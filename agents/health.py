"""The worker's operational endpoints: /health (alive), /ready (serving), /metrics (Prometheus).

They answer without the API token (agents.web_security): an orchestrator's probes and Prometheus
call them without credentials, and they carry no customer data.
"""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.app import app
from agents.metrics import worker_metrics
from agents.prometheus import WorkerCollector, readiness_problems, registry

registry.register(WorkerCollector(app, lambda: worker_metrics.totals))


@app.page("/health")
class HealthView(View):
    """200 while the worker's event loop answers and it has not crashed; 503 after a crash."""

    async def get(self, request: Request) -> Response:
        if app.crashed:
            return self.json({"status": "crashed", "reason": repr(app.crash_reason)}, status=503)
        return self.json({"status": "ok"})


@app.page("/ready")
class ReadyView(View):
    """200 when partitions are assigned and tables recovered; 503 with what is missing otherwise."""

    async def get(self, request: Request) -> Response:
        problems = readiness_problems(app)
        if problems:
            return self.json({"status": "not ready", "problems": problems}, status=503)
        return self.json({"status": "ready"})


@app.page("/metrics")
class MetricsView(View):
    """Prometheus text exposition (agents.prometheus)."""

    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])
