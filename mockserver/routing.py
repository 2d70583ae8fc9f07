"""A 405 for paths that exist under other methods, ahead of the catch-all routes.

Starlette answers 405 only when no later route matches the path fully, and every host role
ends in a catch-all (the queue API on loopback, a 404 on fal's REST host) that always does. So
a ``POST`` to a read-only route would fall through to the catch-all's 404; this route sits just
before the catch-alls and answers 405 with ``Allow`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from mockserver.errors import method_not_allowed

ALLOWED_SCOPE_KEY = "ray2_mock.allowed_methods"
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
"""For routes that answer every method themselves (with a 405 for the ones they lack)."""


class MethodNotAllowedRoute(BaseRoute):
    """Matches a request whose path one of ``routes`` serves under other methods only."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.routes = [r for r in routes if isinstance(r, Route) and r.methods]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        allowed: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.PARTIAL:
                allowed |= route.methods or set()
        return (Match.FULL, {ALLOWED_SCOPE_KEY: allowed}) if allowed else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = method_not_allowed(scope["method"], scope[ALLOWED_SCOPE_KEY])
        await response(scope, receive, send)
