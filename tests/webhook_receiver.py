"""A real local HTTP server (aiohttp) that receives webhook POSTs, for the webhook sink's tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from runtime.broker import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers the scripted statuses first (e.g. [503, 503]), then ``status`` for every later request;
    alerts about a customer in ``refuse`` always get a 422."""

    status: int = 200
    script: list[int] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        received = Received(dict(request.headers), await request.read())
        self.requests.append(received)
        if received.json()["customer"]["customer_id"] in self.refuse:
            status = 422
        else:
            status = self.script.pop(0) if self.script else self.status
        if 200 <= status < 300:
            self.accepted.append(received)
        return web.Response(status=status, text="ok" if status < 300 else f"no ({status})")

    def alert_ids(self) -> list[str]:
        return [r.json()["alert_id"] for r in self.accepted]


@asynccontextmanager
async def webhook_receiver(
    status: int = 200, script: list[int] | None = None, refuse: set[str] | None = None
) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(status=status, script=list(script or []), refuse=set(refuse or ()), port=free_port())
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
