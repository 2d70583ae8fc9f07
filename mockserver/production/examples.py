"""fal's published example media, downloaded from its CDN hosts: the emulator's placeholders.

fal's OpenAPI ``examples`` for the Ray 2 family name files on ``fal.media`` and
``v3.fal.media`` (``images.FAL_EXAMPLE_MEDIA``). As an input the model takes them as
placeholders (they are fal's own media, never fetched offline); a client that downloads one
itself (a preview, a checksum, a harness reading the published document) gets the same
placeholder as a file: a JPEG for an image, the placeholder clip for a video, said in the
emulator's notes. Any other path on those hosts stays the router's 404.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.fal.errors import request_error
from mockserver.media import cached_file_response
from mockserver.media.images import FAL_EXAMPLE_MEDIA, placeholder_jpeg
from mockserver.observation.journal import ENTRY_SCOPE_KEY
from mockserver.services import services

log = logging.getLogger(__name__)

VIDEO_SUFFIX = ".mp4"
IMAGE_TYPE = "image/jpeg"
"""Every published example image is a ``.jpeg`` or ``.jpg``."""


def _note(request: Request, url: str) -> None:
    """Say it where the placeholder notes of the input path go: server log and journal."""
    line = f"{url}: fal's published example, not fetched; served as the emulator's placeholder"
    log.info("%s", line)
    entry = request.scope.get(ENTRY_SCOPE_KEY)
    if entry is not None:
        entry.notes.append(line)


async def serve_example(request: Request) -> Response:
    """GET/HEAD one of fal's published example files on the host it was published on."""
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
    url = f"https://{host}{request.url.path}"
    if url not in FAL_EXAMPLE_MEDIA:  # the path on another fal host: as unknown as any other
        return request_error(404, "Not Found", "not_found")
    _note(request, url)
    name = request.url.path.rsplit("/", 1)[-1]
    if name.endswith(VIDEO_SUFFIX):
        clip = await services(request).renderer.placeholder_clip(url)
        return cached_file_response(request, clip.path, clip.key, name)
    jpeg = await asyncio.to_thread(placeholder_jpeg, url)
    return Response(jpeg, media_type=IMAGE_TYPE)


EXAMPLE_ROUTES = [
    Route(path, serve_example, methods=["GET", "HEAD"])
    for path in dict.fromkeys(urllib.parse.urlsplit(url).path for url in FAL_EXAMPLE_MEDIA)
]
"""One route per published path; the handler checks the host."""
