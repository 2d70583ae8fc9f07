"""``create_app(config)``: wires the store, clock, renderer and queue to fal's routes.

Routes only wire things together. Which routes a request sees depends on its host's role
(``urls.HOST_ROLES``): fal's run, queue and CDN hosts in TLS routing mode, or the plain
loopback layout (queue at the root, sync run under ``/run``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from mockserver.chaos.middleware import FaultMiddleware
from mockserver.chaos.scenarios import FaultDocument, FaultEngine, load_file
from mockserver.clock import Clock, SystemClock
from mockserver.config import Config
from mockserver.control.api import catch_all_routes, control_routes
from mockserver.control.dashboard import dashboard_routes
from mockserver.fal.api import QueueApi
from mockserver.fal.errors import request_error
from mockserver.fal.hosts import MEDIA_PATH, host_role
from mockserver.fal.published import WEB_ROUTES
from mockserver.media import VideoRenderer, serve_video
from mockserver.observation.journal import Journal, JournalMiddleware
from mockserver.observation.metrics import Metrics
from mockserver.production.scenario import ScenarioProducer
from mockserver.production.video import OutputPublisher, VideoProducer, serve_output
from mockserver.queue import RequestQueue
from mockserver.serving.browser_proxy import CORS_MIDDLEWARE, PROXY_ROUTE
from mockserver.serving.routing import ANY_METHOD, MethodNotAllowedRoute
from mockserver.storage.api import CDN_ROUTES, LOCAL_ROUTES, REST_ROUTES, Storage
from mockserver.storage.files import FileStore
from mockserver.stores import MemoryStore, RequestStore, SqliteStore
from mockserver.webhooks.dispatch import LOCAL_ROUTES as WEBHOOK_LOCAL_ROUTES
from mockserver.webhooks.dispatch import REST_ROUTES as WEBHOOK_REST_ROUTES
from mockserver.webhooks.dispatch import RetryPolicy, WebhookDispatcher
from mockserver.webhooks.keys import WebhookSigner

log = logging.getLogger(__name__)


def _api(request: Request) -> QueueApi:
    return request.app.state.api


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
OUTPUT_ROUTE = Route("/files/b/{shard:str}/{name:str}", serve_output, methods=["GET", "HEAD"])

LOCAL_ONLY_ROUTES: list[BaseRoute] = [
    *dashboard_routes(),
    MEDIA_ROUTE,
    OUTPUT_ROUTE,
    *LOCAL_ROUTES,
    *WEBHOOK_LOCAL_ROUTES,
    *control_routes(),
]
ROLE_ROUTES: dict[str, list[BaseRoute]] = {
    "run": [Route("/{path:path}", _run_path, methods=ANY_METHOD)],
    "queue": [Route("/{path:path}", _queue_path, methods=ANY_METHOD)],
    "cdn": [MEDIA_ROUTE, OUTPUT_ROUTE, *CDN_ROUTES],
    "web": WEB_ROUTES,
    "rest": [
        *REST_ROUTES,
        *WEBHOOK_REST_ROUTES,
        MethodNotAllowedRoute(WEBHOOK_REST_ROUTES),
        Route("/{path:path}", _unknown_rest, methods=ANY_METHOD),
    ],
    "local": [
        # The hot path first: every queue call of a fal-ai app skips ~45 route matches (a
        # tenth of a status request's time). Nothing else on loopback lives under /fal-ai/.
        Route("/fal-ai/{path:path}", _fal_ai_queue_path, methods=ANY_METHOD),
        PROXY_ROUTE,
        *LOCAL_ONLY_ROUTES,
        MethodNotAllowedRoute(LOCAL_ONLY_ROUTES),
        *catch_all_routes(),  # a 404 for any other /_mock path
        Route("/run/{path:path}", _run_path, methods=ANY_METHOD),
        Route("/{path:path}", _queue_path, methods=ANY_METHOD),
    ],
}


class _RoleDispatch:
    """Sends each request to its host role's router with one dict lookup.

    One Starlette ``Host`` route per fal host name parsed the Host header once per route:
    a fifth of a status request's cost went to choosing among nine hosts."""

    def __init__(self, routers: dict[str, Router]) -> None:
        self.routers = routers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"")
        await self.routers[host_role(host.decode("latin-1"))](scope, receive, send)


ROLE_ROUTERS = {role: Router(routes) for role, routes in ROLE_ROUTES.items()}
"""One router per host role; the browser proxy (``fal_proxy``) forwards straight into them."""


HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
    return request_error(exc.status_code, str(exc.detail), kind, headers=exc.headers)  # Allow


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return request_error(
        500, "The emulator hit an internal error; see its log", "internal_server_error"
    )


def create_app(
    config: Config | None = None, *, clock: Clock | None = None, store: RequestStore | None = None
) -> Starlette:
    config = config or Config()
    clock = clock or SystemClock()
    journal = Journal(config.journal_size)
    metrics = Metrics()
    document = load_file(config.scenarios_path) if config.scenarios_path else FaultDocument()
    faults = FaultEngine(document, seed=config.seed, fault_rate=config.fault_rate)
    progression = config.progression or document.progression or "timed"
    if faults.random is not None:  # the seed is what reproduces a chaos run: say it
        log.info("random faults %s", faults.random.to_json())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.state_dir.mkdir(parents=True, exist_ok=True)
        request_store = store or (
            SqliteStore(config.database_path) if config.store == "sqlite" else MemoryStore()
        )
        file_store = FileStore(config.files_dir, clock)
        files = Storage(file_store, config)
        renderer = VideoRenderer(
            config.media_dir,
            max_workers=config.render_workers,
            remote_images=config.remote_images,
            resolve_local_url=files.resolve_local_url,
        )
        queue = RequestQueue(
            request_store,
            clock,
            config.timing_profile,
            OutputPublisher(
                ScenarioProducer(VideoProducer(renderer), config.media_dir, metrics), file_store
            ),
            progression=progression,
        )
        app.state.config = config
        app.state.clock = clock
        app.state.store = request_store
        app.state.renderer = renderer
        app.state.queue = queue
        app.state.role_routers = ROLE_ROUTERS
        app.state.api = QueueApi(queue, config)
        app.state.files = files
        webhooks = WebhookDispatcher(
            WebhookSigner.load_or_create(config.state_dir),
            clock,
            RetryPolicy.from_config(config),
            config.webhook_allow,
        )
        queue.completion_listeners.append(webhooks.on_completed)
        queue.completion_listeners.append(
            lambda record: (
                journal.annotate(record.request_id, record.notes) if record.notes else None
            )
        )
        app.state.api.webhook_guard = webhooks.guard
        app.state.webhooks = webhooks
        await webhooks.start()
        app.state.journal = journal
        app.state.metrics = metrics
        app.state.faults = faults

        def reset_faults() -> None:
            faults.reset()
            queue.progression = progression

        app.state.reset_hooks = [reset_faults]
        await queue.start()
        try:
            yield
        finally:
            await queue.stop()
            await webhooks.aclose()
            await renderer.aclose()
            file_store.close()
            if store is None:
                request_store.close()

    return Starlette(
        routes=[Mount("", app=_RoleDispatch(ROLE_ROUTERS))],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _crash},
        middleware=[
            CORS_MIDDLEWARE,
            Middleware(
                JournalMiddleware, journal=journal, clock=clock.now, observe=metrics.observe
            ),
            Middleware(FaultMiddleware, engine=faults, max_body_bytes=config.max_body_bytes),
        ],
    )
