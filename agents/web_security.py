"""Who may read the worker's web server: a bearer token, checked before any view runs.

An aiohttp middleware (given to Faust as ``web_application_options``) rather than a check in each
view, so Faust's own pages and any view added later are covered as well. The probes and the
Prometheus scrape stay open: they carry no customer data, and an orchestrator calls them without
credentials.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

#: Paths answered without a token.
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_middleware(expected: str) -> Middleware:
    """Answers 401 (no token) or 403 (wrong token) unless the request carries ``expected``."""

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.rstrip("/") in OPEN_PATHS:
            return await handler(request)
        given = bearer_token(request)
        if given is None:
            return web.json_response(
                {"error": "this worker requires a token: send 'Authorization: Bearer <FRAUDWATCH_API_TOKEN>'"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="fraudwatch"'},
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response({"error": "wrong token"}, status=403)
        return await handler(request)

    return require_token


def web_application_options(api_token: str | None, web_host: str) -> dict[str, list[Middleware]]:
    """aiohttp Application options for the worker's web server."""
    if api_token:
        return {"middlewares": [token_middleware(api_token)]}
    if web_host not in {"127.0.0.1", "localhost", "::1"}:
        logger.warning(
            "the read API listens on %s without a token: anyone who reaches it reads customer data; "
            "set FRAUDWATCH_API_TOKEN",
            web_host,
        )
    return {}
