"""``create_app(config)``: the emulator's routes and middleware over its services.

Routes only wire things together (the parts are built in ``services.py``). Which routes a
request sees depends on its host's role (``fal.hosts.HOST_ROLES``): fal's run, queue, REST and
CDN hosts in TLS routing mode, or the plain loopback layout (queue at the root, sync run under
``/run``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router

from mockserver.assembly import open_services
from mockserver.chaos.engine import FaultEngine
from mockserver.chaos.model import FaultDocument
from mockserver.chaos.parse import load_file
from mockserver.clock import Clock, SystemClock
from mockserver.config import Config
from mockserver.control.access import ControlAccess
from mockserver.control.api import catch_all_routes, control_routes
from mockserver.control.dashboard import dashboard_routes
from mockserver.fal.api import QueueApi
from mockserver.fal.endpoints import register_endpoint_specs
from mockserver.fal.errors import request_error
from mockserver.fal.hosts import MEDIA_PATH
from mockserver.fal.published import WEB_ROUTES
from mockserver.gateway import Gateway
from mockserver.observation.journal import Journal
from mockserver.observation.metrics import Metrics
from mockserver.production.examples import EXAMPLE_ROUTES
from mockserver.production.video import serve_output, serve_video
from mockserver.services import Observers, Services, services
from mockserver.serving.browser_proxy import CORS_SETTINGS, PROXY_ROUTE
from mockserver.serving.routing import ANY_METHOD, MethodNotAllowedRoute
from mockserver.storage.api import CDN_ROUTES, LOCAL_ROUTES, REST_ROUTES, cdn_file_route
from mockserver.stores import RequestStore
from mockserver.webhooks.dispatch import LOCAL_ROUTES as WEBHOOK_LOCAL_ROUTES
from mockserver.webhooks.dispatch import REST_ROUTES as WEBHOOK_REST_ROUTES

log = logging.getLogger(__name__)


def _api(request: Request) -> QueueApi:
    return services(request).api


async def _queue_path(request: Request) -> Response:
    return await _api(request).dispatch(request, request.path_params["path"], sync=False)


async def _fal_ai_queue_path(request: Request) -> Response:
    path = "fal-ai/" + request.path_params["path"]
    return await _api(request).dispatch(request, path, sync=False)


async def _run_path(request: Request) -> Response:
    return await _api(request).dispatch(request, request.path_params["path"], sync=True)


async def _unknown_rest(request: Request) -> Response:
    return request_error(
        404, f"No emulated route at {request.url.path} on {request.url.hostname}", "not_found"
    )


MEDIA_ROUTE = Route(MEDIA_PATH.replace("{key}", "{key:str}"), serve_video, methods=["GET", "HEAD"])
CDN_FILE_ROUTE = cdn_file_route(serve_output)
"""Uploads and generated files share fal's ``files/b/<shard>/<id>_<name>`` namespace."""

LOCAL_ONLY_ROUTES: list[BaseRoute] = [
    *dashboard_routes(),
    MEDIA_ROUTE,
    CDN_FILE_ROUTE,
    *LOCAL_ROUTES,
    *WEBHOOK_LOCAL_ROUTES,
    *control_routes(),
]
ROLE_ROUTES: dict[str, list[BaseRoute]] = {
    "run": [Route("/{path:path}", _run_path, methods=ANY_METHOD)],
    "queue": [Route("/{path:path}", _queue_path, methods=ANY_METHOD)],
    "cdn": [MEDIA_ROUTE, CDN_FILE_ROUTE, *CDN_ROUTES, *EXAMPLE_ROUTES],
    "web": WEB_ROUTES,
    "rest": [
        *REST_ROUTES,
        *WEBHOOK_REST_ROUTES,
        MethodNotAllowedRoute(WEBHOOK_REST_ROUTES),
        Route("/{path:path}", _unknown_rest, methods=ANY_METHOD),
    ],
    "local": [
        # The gateway sends well-formed fal calls straight to QueueApi; what reaches these
        # routes is the rest (wrong methods, unknown paths), answered as fal answers them.
        Route("/fal-ai/{path:path}", _fal_ai_queue_path, methods=ANY_METHOD),
        PROXY_ROUTE,
        *LOCAL_ONLY_ROUTES,
        MethodNotAllowedRoute(LOCAL_ONLY_ROUTES),
        *catch_all_routes(),  # a 404 for any other /_mock path
        Route("/run/{path:path}", _run_path, methods=ANY_METHOD),
        Route("/{path:path}", _queue_path, methods=ANY_METHOD),
    ],
}


ROLE_ROUTERS = {role: Router(routes) for role, routes in ROLE_ROUTES.items()}
"""One router per host role; the browser proxy (``serving/browser_proxy.py``) forwards into them."""


def create_app(
    config: Config | None = None, *, clock: Clock | None = None, store: RequestStore | None = None
) -> Gateway:
    config = config or Config()
    if config.admin_token is None and not config.on_loopback:
        raise ValueError(
            f"bound to {config.host!r}, beyond loopback: the control plane (/_mock, the "
            "dashboard) needs an admin token (Config.admin_token, --admin-token or "
            "RAY2_MOCK_ADMIN_TOKEN; ray2-mock serve makes one)"
        )
    shared = None
    if config.redis_url is not None:  # replicas sharing one Redis (imported only then)
        from mockserver.shared.clock import SharedClock
        from mockserver.shared.connection import SharedRedis

        shared = SharedRedis(config.redis_url)
        clock = clock or SharedClock(shared)
    clock = clock or SystemClock()
    if config.endpoint_specs:
        register_endpoint_specs(config.endpoint_specs)
    document = load_file(config.scenarios_path) if config.scenarios_path else FaultDocument()
    progression = config.progression or document.progression or "timed"
    if shared is not None:  # one journal, summed metrics, shared scenarios
        from mockserver.shared.observers import shared_observers

        observers = shared_observers(shared, config, document, progression)
    else:
        observers = Observers(
            journal=Journal(config.journal_size),
            metrics=Metrics(),
            faults=FaultEngine(document, seed=config.seed, fault_rate=config.fault_rate),
            progression=progression,
        )
    if observers.faults.random is not None:  # the seed is what reproduces a chaos run: say it
        log.info("random faults %s", observers.faults.random.to_json())

    @contextlib.asynccontextmanager
    async def lifespan(app: Gateway) -> AsyncIterator[None]:
        built = open_services(config, clock, observers, ROLE_ROUTERS, store, shared)
        app.state.services = built
        app.handle = built.api.handle  # the fast path's one call, bound once
        await built.start()
        try:
            async with _observing(built) if shared is not None else contextlib.nullcontext():
                yield
        finally:
            await built.aclose()

    return Gateway(
        routers=ROLE_ROUTERS,
        journal=observers.journal,
        metrics=observers.metrics,
        faults=observers.faults,
        clock=clock.now,
        max_body_bytes=config.max_body_bytes,
        lifespan=lifespan,
        cors=CORS_SETTINGS,
        access=ControlAccess(config.admin_token),
        outages=_outages() if shared is not None else None,
    )


def _observing(built: Services) -> contextlib.AbstractAsyncContextManager[None]:
    from mockserver.shared.observers import observing

    return observing(built)


def _outages() -> tuple[tuple[type[BaseException], ...], Callable[[BaseException], Response]]:
    from mockserver.shared.unavailable import redis_failures, unavailable

    return redis_failures(), unavailable
