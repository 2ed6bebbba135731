"""Serve the dashboard with Panel's server (what `panel serve ui/app.py` does, with our settings)."""

from __future__ import annotations

from typing import Any

import panel as pn

from config import Settings
from ui.app import create_dashboard


class DashboardConfigError(ValueError):
    """The dashboard settings do not fit together; the message says which to set."""


def serve_dashboard(settings: Settings) -> Any:
    """Start the server in a thread; returns it (call .stop())."""
    auth: dict[str, Any] = {}
    if settings.dashboard_password:
        if not settings.dashboard_cookie_secret:
            raise DashboardConfigError("FRAUDWATCH_DASHBOARD_PASSWORD needs FRAUDWATCH_DASHBOARD_COOKIE_SECRET too")
        auth = {"basic_auth": settings.dashboard_password, "cookie_secret": settings.dashboard_cookie_secret}
    port, host = settings.dashboard_port, settings.dashboard_host
    return pn.serve(
        {"dashboard": create_dashboard},
        port=port,
        address=host,
        websocket_origin=[f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"],
        show=False,
        threaded=True,
        title="fraudwatch",
        **auth,
    )
