"""Method handling that Starlette's router leaves to us: every 405 names the allowed methods.

- ``MethodTableRoute`` serves one path with a handler per method.
- ``MethodNotAllowedRoute`` sits just before the catch-alls. Starlette answers 405 only when
  no later route matches the path fully, and every host role ends in a catch-all (the queue
  API on loopback, a 404 on fal's REST host) that always does; so a ``POST`` to a read-only
  route would get the catch-all's 404 instead of a 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from mockserver.fal.errors import method_not_allowed

ALLOWED_SCOPE_KEY = "ray2_mock.allowed_methods"
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
"""For routes that answer every method themselves (with a 405 for the ones they lack)."""


class MethodNotAllowedRoute(BaseRoute):
    """Matches a request whose path one of ``routes`` serves under other methods only."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.routes = [
            r
            for r in routes
            if isinstance(r, Route) and r.methods and not isinstance(r, MethodTableRoute)
        ]

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


Handler = Callable[[Request], Awaitable[Response]]


class MethodTableRoute(Route):
    """One path, a handler per method (HEAD falls back to GET), a 405 with ``Allow`` for the
    rest. It claims every method, so no catch-all behind it answers a wrong method instead."""

    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])  # the server drops the body

        async def dispatch(request: Request) -> Response:
            handler = self.handlers.get(request.method)
            if handler is None:
                return method_not_allowed(request.method, self.handlers)
            return await handler(request)

        super().__init__(path, dispatch, methods=ANY_METHOD)
