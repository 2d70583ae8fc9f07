"""What a finished request returns: the rendered video as fal's ``{"video": File}``.

Rendering is content-addressed (identical inputs share one cached MP4), but fal uploads each
result under a new id, so every generation gets its own CDN file (``OutputPublisher``) that
serves the cached bytes: a client that caches or de-duplicates by URL sees what it sees live.
The submit's ``X-Fal-Object-Lifecycle-Preference`` sets how long that file lives.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts.schemas.endpoints import per_second
from mockserver.fal.catalogue import media_error_detail, model_error
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.errors import request_error
from mockserver.fal.hosts import cdn_file_url, media_url
from mockserver.media import MediaInputError, RenderedVideo, RenderRequest, VideoRenderer
from mockserver.media.cache import SUFFIX
from mockserver.media.serving import cached_file_response
from mockserver.production.generic import output_with_urls
from mockserver.queue import Producer, Production, produced_at_once
from mockserver.records import RequestRecord
from mockserver.services import services
from mockserver.storage.files import Files, split_file_name


class VideoProducer:
    """Turns a request into a rendered MP4 (or the fal error its input deserves)."""

    def __init__(self, renderer: VideoRenderer) -> None:
        self.renderer = renderer

    async def __call__(self, record: RequestRecord) -> Production:
        try:
            video = await self.renderer.render(self._request(record))
        except MediaInputError as exc:  # fal's model error; the emulator's reason in its notes
            return Production(
                error=model_error(exc.status_code, media_error_detail(exc)), notes=exc.notes
            )
        return self._production(record, video)

    def ready(self, record: RequestRecord) -> Production | None:
        """The production at once when the video is already cached (``VideoRenderer.cached``);
        None: it takes the renderer's coroutine (``__call__``)."""
        try:
            video = self.renderer.cached(self._request(record))
        except MediaInputError:  # its answer is __call__'s to give
            return None
        return None if video is None else self._production(record, video)

    @staticmethod
    def _request(record: RequestRecord) -> RenderRequest:
        arguments = ENDPOINTS[record.endpoint_id].arguments_of(record)
        return RenderRequest(record.endpoint_id, arguments, record.request_id)

    @staticmethod
    def _production(record: RequestRecord, video: RenderedVideo) -> Production:
        endpoint = ENDPOINTS[record.endpoint_id]
        media = {
            "key": video.key,
            "file_name": video.file_name,
            "file_size": video.file_size,
            "content_type": video.content_type,
        }
        if video.spec is not None:  # what the file holds: the dashboard shows it
            media["width"], media["height"] = video.spec.width, video.spec.height
            media["fps"], media["frame_count"] = video.spec.fps, video.spec.frame_count
        units = None
        if per_second(record.endpoint_id) and video.source is not None:
            units = endpoint.cost_units(
                endpoint.validation_of(record), seconds=video.source.seconds
            )
        return Production(media=media, notes=tuple(video.log_lines), units=units)


log = logging.getLogger(__name__)

LIFECYCLE_HEADER = "x-fal-object-lifecycle-preference"


def output_lifetime(headers: Mapping[str, str]) -> float | None:
    """Seconds a generated file lives after completion, from the submit's lifecycle header
    (``{"expiration_duration_seconds": N}``); None: it never expires.

    fal's app framework reads the header of the request and applies it to every file the app
    uploads (``fal/app.py``, ``toolkit/file/file.py``); a value it cannot parse is printed and
    ignored, never refused. null, 0 or a negative number: no expiry [INF for the last two]."""
    raw = headers.get(LIFECYCLE_HEADER)
    if raw is None:
        return None
    try:
        preference = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        log.warning("ignoring an unparsable %s header %r: %s", LIFECYCLE_HEADER, raw, exc)
        return None
    seconds = (
        preference.get("expiration_duration_seconds") if isinstance(preference, dict) else None
    )
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return float(seconds) if math.isfinite(seconds) and seconds > 0 else None


class OutputPublisher:
    """Gives every generation its own file on the emulated CDN (``files/b/<shard>/<id>_...``)."""

    def __init__(self, inner: Producer, files: Files) -> None:
        self.inner = inner
        self.files = files

    async def __call__(self, record: RequestRecord) -> Production:
        return self._publish(await self.inner(record))

    def ready(self, record: RequestRecord) -> Production | None:
        """``__call__`` at once, when the inner producer has the output already."""
        production = produced_at_once(self.inner, record)
        return None if production is None else self._publish(production)

    def _publish(self, production: Production) -> Production:
        if production.media is None:
            return production
        media = production.media
        if "files" in media:  # an output made by rule: each of its files gets its own
            files = [self._published(entry) for entry in media["files"]]
            return replace(production, media={**media, "files": files})
        published = self.files.add_output(media["key"], media["file_name"])
        return replace(
            production, media={**media, "file_id": published.file_id, "shard": published.shard}
        )

    def _published(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        published = self.files.add_output(
            entry["key"], entry["file_name"], entry.get("content_type")
        )
        return {**entry, "file_id": published.file_id, "shard": published.shard}

    def on_completed(self, record: RequestRecord) -> None:
        """``RequestQueue.completion_listeners`` entry: the files' lifetime starts now."""
        media = record.media or {}
        file_ids = [f.get("file_id") for f in media.get("files", [media])]
        lifetime = output_lifetime(record.headers)
        if lifetime is None:
            return
        for file_id in filter(None, file_ids):
            try:
                self.files.expire_output(file_id, (record.completed_at or 0.0) + lifetime)
            except Exception:  # a file row must not break the queue's completion
                log.exception("setting the lifetime of %s's output failed", record.request_id)


def file_url(request: Request, file: Mapping[str, Any]) -> str:
    """A published output file's URL on the host the client used."""
    return cdn_file_url(request, file["shard"], file["file_id"], file["file_name"])


def video_url(request: Request, media: dict[str, Any]) -> str | None:
    """The URL a client was given for this output's video (its own CDN file); None for an
    output made by rule, whose files are in its body."""
    if "output" in media:
        return None
    if "file_id" in media:
        return cdn_file_url(request, media["shard"], media["file_id"], media["file_name"])
    return media_url(request, media["key"])  # a record written before outputs had their own


async def serve_output(request: Request) -> Response:
    """GET/HEAD one generation's file: ``/files/b/{shard}/{file_id}_{file_name}``."""
    named = split_file_name(str(request.path_params["name"]))
    emulator = services(request)
    output = None if named is None else emulator.files.output(named[0])
    if (
        named is None
        or output is None
        or (output.shard, output.file_name)
        != (
            request.path_params["shard"],
            named[1],
        )
    ):
        return JSONResponse({"detail": "File not found"}, status_code=404)
    if emulator.files.output_expired(output.file_id):
        # the answer an expired upload gets here [INF: no capture of an expired CDN file]
        return request_error(410, "File has expired (object lifecycle)", "file_expired")
    path = emulator.renderer.path_for_key(output.media_key)
    return cached_file_response(
        request, path, output.media_key, output.file_name, output.content_type
    )


async def serve_video(request: Request) -> Response:
    """GET/HEAD a render by its cache key, ``{key}`` or ``{key}.mp4`` (dashboard previews)."""
    key = str(request.path_params.get("key", "")).removesuffix(SUFFIX)
    path = services(request).renderer.path_for_key(key)  # validates the key: no traversal
    return cached_file_response(request, path, key, "output.mp4")


def output_body(request: Request, record: RequestRecord) -> dict[str, Any]:
    media = record.media or {}
    if "output" in media:
        return output_with_urls(media["output"], media["files"], lambda f: file_url(request, f))
    return {
        "video": {
            "url": video_url(request, media),
            "content_type": media["content_type"],
            "file_name": media["file_name"],
            "file_size": media["file_size"],
        }
    }
