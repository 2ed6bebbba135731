"""Which worker owns a customer's partition, and forwarding a request there.

Faust's own ``table_route`` forwards only GETs without a body, and answered 500 on the embedded
broker (field notes); this asks the partition assignor directly and forwards any method with
its body, once (a header stops loops while a rebalance moves the partition).
"""

from __future__ import annotations

import logging

from faust.types import TableT
from faust.web import Request, Response, View
from yarl import URL

from agents.app import app

logger = logging.getLogger(__name__)
ROUTED_HEADER = "X-Fraudwatch-Routed"


def owner_elsewhere(table: TableT[bytes, bytes], key: bytes) -> URL | None:
    """The web URL of the worker holding ``key``'s partition, or None when it is this one (or unknown yet)."""
    try:
        owner: URL = app.router.key_store(table.name, key)
    except Exception:  # no assignment known yet (one worker, before or during its first rebalance)
        return None
    me = app.conf.canonical_url
    return None if (owner.host, owner.port) == (me.host, me.port) else owner


async def forward(view: View, request: Request, owner: URL, body: bytes) -> Response:
    url = request.url.with_scheme(owner.scheme or "http").with_host(owner.host or "").with_port(owner.port)
    headers = {"Content-Type": request.headers.get("Content-Type", "application/json"), ROUTED_HEADER: "1"}
    if "Authorization" in request.headers:  # the owner checks the same token (agents.web_security)
        headers["Authorization"] = request.headers["Authorization"]
    async with app.http_client.request(request.method, url, data=body, headers=headers) as response:
        return view.bytes(await response.read(), content_type=response.content_type, status=response.status)


def was_routed(request: Request) -> bool:
    return request.headers.get(ROUTED_HEADER) == "1"


async def answer_from_owner(
    view: View, request: Request, table: TableT[bytes, bytes], key: bytes, body: bytes = b""
) -> Response | None:
    """The owner's answer when another worker holds ``key``'s partition in ``table``; None = answer here."""
    owner = None if was_routed(request) else owner_elsewhere(table, key)
    return await forward(view, request, owner, body) if owner is not None else None
