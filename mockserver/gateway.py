"""The emulator's one ASGI entry: each request classified once, fal's operations by a table.

A status call used to cross eleven layers before its handler (Starlette's error and exception
middleware, CORS, journal, faults, a router, a mount, a host dispatch, a second router, a route,
the handler's own path parsing); half its time went there. The gateway instead:

- classifies the request once (``fal.operations.classify``) and leaves it in the scope, where
  the journal, the fault engine and the handlers read it;
- journals and meters every request and lets the fault engine act (a no-op when no scenario or
  fault rate is set): no feature leaves the hot path;
- does CORS work only for requests that carry an ``Origin`` header (browsers): fal's open
  CORS on fal's routes, the own origin only on the control plane;
- puts every control request (``/_mock/*`` on a local host name) through ``ControlAccess``
  first: the admin token when one is set, the own origin always (``control/access.py``);
- hands fal's request operations (submit, run, status, stream, result, cancel) straight to
  ``QueueApi.handle``; everything else (media, storage, control, the browser proxy, the 404s
  and 405s) goes to its host role's Starlette router, as before;
- answers a crash with fal's 500 shape and a router's 404/405 with fal's error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.datastructures import Headers, State
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.chaos.engine import FaultEngine
from mockserver.chaos.middleware import FaultMiddleware
from mockserver.control.access import ControlAccess, is_control_path
from mockserver.fal.errors import request_error
from mockserver.fal.hosts import host_role
from mockserver.fal.operations import FAL_ROUTES, FalCall, classify
from mockserver.observation.journal import (
    CALL_SCOPE_KEY,
    TRANSPORT_SCOPE_KEY,
    Journal,
    JournalMiddleware,
)
from mockserver.observation.metrics import Metrics

log = logging.getLogger(__name__)

HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}
TARGET_URL_HEADER = b"x-fal-target-url"
PROXIED_SCOPE_KEY = "ray2_mock.proxied"
"""A browser-proxy call (``x-fal-target-url``): its path is the proxy's, not fal's."""
SUBMITTING_ROUTES = frozenset({"submit", "run"})
"""Classified from the path alone, whatever the method: only a POST takes the fast path (a
GET there is the router's 405)."""
FAST_ROUTES = frozenset(FAL_ROUTES)
CONTROL_CALL = FalCall("control")


class IndexedHeaders(Headers):
    """Starlette's ``Headers`` with ``get`` and ``[]`` answered from a dict built once.

    A submit reads a dozen headers, most of them absent; the list scan and the ``KeyError``
    behind each ``get`` cost a tenth of its time. Names and values are decoded once, when the
    index is built (a request carries a handful). First occurrence wins, as in ``Headers``."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._index = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in reversed(self._list)
        }

    def get(self, key: str, default: Any = None) -> Any:
        value = self._index.get(key.lower())
        return default if value is None else value

    def __getitem__(self, key: str) -> str:
        value = self._index.get(key.lower())
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: Any) -> bool:
        return key.lower() in self._index


class FalRequest(Request):
    """The request the fast path hands to ``QueueApi``: headers indexed once."""

    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = IndexedHeaders(self.scope)
        return self._headers


def http_error(exc: HTTPException) -> Response:
    """A router's 404 or 405, in fal's request-error shape (``Allow`` kept)."""
    kind = HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
    return request_error(exc.status_code, str(exc.detail), kind, headers=exc.headers)


def crash_response() -> Response:
    """fal's request error for a failure of its own (``internal_error``, fal's request-error
    catalogue); the text points at the emulator's log, where the traceback is."""
    return request_error(500, "The emulator hit an internal error; see its log", "internal_error")


class Gateway:
    """The ASGI app ``create_app`` returns. ``state.services`` holds the running parts."""

    def __init__(
        self,
        *,
        routers: Mapping[str, Router],
        journal: Journal,
        metrics: Metrics,
        faults: FaultEngine,
        clock: Callable[[], float],
        max_body_bytes: int,
        lifespan: Callable[[Any], AbstractAsyncContextManager[None]],
        cors: Mapping[str, Any],
        access: ControlAccess | None = None,
        outages: tuple[tuple[type[BaseException], ...], Callable[[BaseException], Response]]
        | None = None,
    ) -> None:
        self.state = State()
        self.outages = outages
        """Errors that mean a part the emulator needs is away (Redis), and their answer: a
        503 at once, without a traceback (``shared/unavailable.py``)."""
        self.access = access or ControlAccess(None)
        self.routers = routers
        self.handle: Callable[[Request, FalCall], Awaitable[Response]] = _not_started
        """Where fal's calls go: ``QueueApi.handle``, bound by the lifespan once it is built."""
        self._lifespan = Router(lifespan=lambda _router: lifespan(self))
        observed: ASGIApp = JournalMiddleware(
            FaultMiddleware(self._route, engine=faults, max_body_bytes=max_body_bytes),
            journal=journal,
            clock=clock,
            observe=journal.on_finish(metrics.observe),
        )
        self._plain = observed
        self._cors = CORSMiddleware(observed, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http":  # no websocket routes: the router closes the socket
            await self.routers["local"](scope, receive, send)
            return
        host = target = b""
        origin: bytes | None = None
        proxied = False
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
            elif key == b"origin":
                origin = value
            elif key == TARGET_URL_HEADER:
                target, proxied = value, True
        host_text = host.decode("latin-1")
        control = is_control_path(scope["path"]) and host_role(host_text) == "local"
        # A control request is one whatever else it carries (an x-fal-target-url too): never
        # journaled, never classified as fal's, always past the gate.
        target_url = target.decode("latin-1") or None
        method, path = scope["method"], scope["path"]
        call = CONTROL_CALL if control else classify(method, host_text, path, target_url)
        scope[CALL_SCOPE_KEY] = call
        scope[PROXIED_SCOPE_KEY] = proxied
        scope[TRANSPORT_SCOPE_KEY] = getattr(getattr(receive, "__self__", None), "transport", None)
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            if control:
                await self.access.admit(self._plain, scope, receive, watched_send, origin)
            else:
                await (self._plain if origin is None else self._cors)(scope, receive, watched_send)
        except Exception as exc:
            if self.outages is not None and isinstance(exc, self.outages[0]):
                if not started:
                    await self.outages[1](exc)(scope, receive, send)
                return
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                await crash_response()(scope, receive, send)
            raise

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        call: FalCall = scope[CALL_SCOPE_KEY]
        route = call.route
        if (
            route in FAST_ROUTES
            and (route not in SUBMITTING_ROUTES or scope["method"] == "POST")
            and not scope[PROXIED_SCOPE_KEY]
        ):
            response = await self.handle(FalRequest(scope, receive), call)
            await response(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), b"")
        try:
            await self.routers[host_role(host.decode("latin-1"))](scope, receive, send)
        except HTTPException as exc:
            await http_error(exc)(scope, receive, send)


async def _not_started(request: Request, call: FalCall) -> Response:
    raise RuntimeError("fal call before the lifespan started the emulator's services")
