"""One router per resource, combined here: ``(router, under /v1?)`` in mounting order."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.routes import (
    campaigns,
    cli_bridge,
    commissions,
    events,
    health,
    keys,
    leaderboard,
    page,
    roles,
    runs,
    segments,
    users,
    web,
    web_campaigns,
)

__all__ = ["ROUTERS"]

ROUTERS: list[tuple[APIRouter, bool]] = [
    (health.router, False),
    (page.router, False),
    (web.router, False),
    (web_campaigns.router, False),
    (leaderboard.router, True),
    (users.router, True),
    (events.router, True),
    (runs.router, True),
    (roles.router, True),
    (commissions.router, True),
    (keys.router, True),
    (segments.router, True),
    (campaigns.router, True),
    (cli_bridge.router, False),
]
