"""HTTP side of the dashboard: the static page, the JSON it reads, and a live feed.

Everything lives under ``/_mock/ui`` (and the endpoint schemas under ``/_mock/schemas``), on the
emulator's own addresses, behind the control plane's gate (``control/access.py``). The page
submits through the real queue API like any client; these routes only *read* the emulator's
state.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from contracts.schemas import SCHEMA_DIR, load_schema
from contracts.schemas.endpoints import ENDPOINT_FACTS, input_fields
from mockserver.control.api import query_limit, request_not_found
from mockserver.fal.catalogue import media_error_detail
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.errors import method_not_allowed, request_error, validation_error
from mockserver.media import MediaInputError
from mockserver.media.images import frame_image, load_image_input
from mockserver.production.video import output_body, video_url
from mockserver.records import RequestRecord
from mockserver.services import services

from . import views

STATIC_DIR = Path(__file__).parent / "static"
UI_PATH = "/_mock/ui"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FEED_RECHECK_SECONDS = 0.5
"""Log lines become visible with time, not with a state change: the feed looks this often."""
PREVIEW_MAX_SIDE = 480
PREVIEW_FALLBACK = {"width": 960, "height": 540}
"""The frame an input image is previewed in while a reframe's output size is not known yet."""
NO_STORE = {"cache-control": "no-store"}


def _limit(request: Request) -> int | Response:
    return query_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)  # type: ignore[no-any-return]


def _position(request: Request, record: RequestRecord) -> int | None:
    return services(request).queue.position(record) if record.status == "IN_QUEUE" else None


def _summaries(request: Request, limit: int) -> list[dict[str, Any]]:
    state = services(request)
    now = state.clock.now()
    return [
        views.summary(
            record,
            now=now,
            position=_position(request, record),
            video_url=lambda media: video_url(request, media),
        )
        for record in state.store.recent(limit)
    ]


def _record_or_404(request: Request) -> RequestRecord | Response:
    request_id = request.path_params["request_id"]
    record = services(request).queue.get(request_id)
    if record is None:
        return request_not_found()
    return record


def _output(request: Request, record: RequestRecord) -> dict[str, Any] | None:
    """What ``GET response_url`` returns for this record: status code and body."""
    if record.status != "COMPLETED":
        return None
    if record.error is not None:
        return {"status_code": record.error["status_code"], "body": record.error["body"]}
    return {"status_code": 200, "body": output_body(request, record)}


# -- page -------------------------------------------------------------------------------------


async def page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers=NO_STORE)


async def page_slash(request: Request) -> Response:
    return RedirectResponse(UI_PATH, status_code=308)


# -- requests ---------------------------------------------------------------------------------


async def requests_list(request: Request) -> Response:
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    body = {"now": services(request).clock.now(), "requests": _summaries(request, limit)}
    return JSONResponse(body, headers=NO_STORE)


async def request_detail(request: Request) -> Response:
    record = _record_or_404(request)
    if isinstance(record, Response):
        return record
    body = views.detail(
        record,
        now=services(request).clock.now(),
        position=_position(request, record),
        video_url=lambda media: video_url(request, media),
        output=_output(request, record),
    )
    return JSONResponse(body, headers=NO_STORE)


def _preview_png(source: Any, width: int, height: int) -> bytes:
    image = frame_image(source, width, height)
    image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


async def input_image(request: Request) -> Response:
    """The first/last frame exactly as the renderer draws it (placeholder included), as PNG.

    Served from here rather than linked, so the page never fetches a remote host and shows what
    the video really starts or ends with.
    """
    record = _record_or_404(request)
    if isinstance(record, Response):
        return record
    field = request.path_params["field"]
    sent = record.input if isinstance(record.input, dict) else {}
    url = sent.get(field) if field in input_fields(record.endpoint_id)[0] else None
    if not isinstance(url, str) or not url:
        return request_error(404, f"Request has no input image {field!r}", "not_found")
    renderer = services(request).renderer
    arguments = ENDPOINTS[record.endpoint_id].arguments_of(record)
    size = views.video_size(record, arguments) or PREVIEW_FALLBACK
    try:
        source = await load_image_input(
            field,
            url,
            remote=renderer.remote_images,
            resolve_local_url=renderer.resolve_local_url,
        )
        png = await asyncio.to_thread(_preview_png, source, size["width"], size["height"])
    except MediaInputError as exc:
        return validation_error(media_error_detail(exc), status_code=exc.status_code)
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=600"})


async def feed(request: Request) -> Response:
    """SSE: the recent-requests list whenever it changes (``elapsed`` alone is no change)."""
    limit = _limit(request)
    if isinstance(limit, Response):
        return limit
    state = services(request)

    async def events() -> AsyncIterator[dict[str, str]]:
        last: list[dict[str, Any]] | None = None
        while True:
            rows = _summaries(request, limit)
            shape = [{k: v for k, v in row.items() if k != "elapsed"} for row in rows]
            if shape != last:
                last = shape
                yield {
                    "event": "requests",
                    "data": json.dumps({"now": state.clock.now(), "requests": rows}),
                }
            await state.queue.wait_changed(timeout=FEED_RECHECK_SECONDS)

    from sse_starlette.sse import EventSourceResponse  # on first stream

    return EventSourceResponse(
        events(), ping=state.config.stream_keepalive_seconds, headers=NO_STORE
    )


# -- schemas ----------------------------------------------------------------------------------


async def schema_index(request: Request) -> Response:
    endpoints = [
        {
            "endpoint_id": endpoint.endpoint_id,
            "kind": endpoint.kind,
            "input_schema": endpoint.input_schema,
            "output_schema": endpoint.output_schema,
            "input_schema_url": f"/_mock/schemas/{endpoint.input_schema}",
        }
        for endpoint in ENDPOINT_FACTS.values()
    ]
    return JSONResponse({"endpoints": endpoints})


async def schema_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _schema_names():
        return request_error(404, f"No schema named {name!r}", "not_found")
    return JSONResponse(load_schema(name))


def _schema_names() -> frozenset[str]:
    """Only the JSON Schema files: the folder also holds Python code."""
    return frozenset(path.name for path in SCHEMA_DIR.glob("*.json"))


class _StaticAssets(StaticFiles):
    """StaticFiles, with the fal-shaped 405 and its ``Allow`` header for other methods."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            await method_not_allowed(scope["method"], ("GET", "HEAD"))(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def dashboard_routes() -> list[BaseRoute]:
    """Register before any catch-all on the local listener."""
    return [
        Route(UI_PATH, page, methods=["GET", "HEAD"]),
        Route(UI_PATH + "/", page_slash, methods=["GET", "HEAD"]),
        Mount(UI_PATH + "/static", app=_StaticAssets(directory=STATIC_DIR), name="dashboard"),
        Route(UI_PATH + "/requests", requests_list),
        Route(UI_PATH + "/events", feed),
        Route(UI_PATH + "/requests/{request_id}", request_detail),
        Route(UI_PATH + "/requests/{request_id}/images/{field}", input_image),
        Route("/_mock/schemas", schema_index),
        Route("/_mock/schemas/{name}", schema_file),
    ]
