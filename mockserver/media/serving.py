"""HTTP serving of rendered videos, with the headers browsers and players need to seek.

Starlette's FileResponse does the byte work (single and multi-part Range, If-Range, HEAD, 416 with
`Content-Range: bytes */size` for unsatisfiable ranges, 400 for malformed ones); this module adds
the lookup, a strong ETag, conditional GET and fal's error shape. Files are content-addressed, so
the ETag is the key itself and responses may be cached forever.
"""

from __future__ import annotations

import stat

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .cache import SUFFIX

CACHE_CONTROL = "public, max-age=31536000, immutable"


def _not_found() -> Response:
    return JSONResponse({"detail": "File not found"}, status_code=404)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


async def serve_video(request: Request) -> Response:
    """GET/HEAD `{key}` or `{key}.mp4` from `request.app.state.renderer`'s cache."""
    key = str(request.path_params.get("key", "")).removesuffix(SUFFIX)
    return serve_cached(request, key, "output.mp4")


def serve_cached(request: Request, key: str, filename: str) -> Response:
    """The cached render ``key`` with Range, a strong ETag and conditional GET."""
    renderer = request.app.state.renderer
    path = renderer.path_for_key(key)  # validates the key: no separators, no traversal
    if path is None:
        return _not_found()
    try:
        stat_result = path.lstat()  # the link itself: a symlink could point out of the cache
    except FileNotFoundError:
        return _not_found()
    if not stat.S_ISREG(stat_result.st_mode):
        return _not_found()
    etag = f'"{key}"'
    headers = {
        "etag": etag,
        "cache-control": CACHE_CONTROL,
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type="video/mp4",
        headers=headers,
        stat_result=stat_result,
        filename=filename,
        content_disposition_type="inline",
    )
