"""HTTP serving of rendered videos, with the headers browsers and players need to seek.

Starlette's FileResponse does the byte work (single and multi-part Range, If-Range, HEAD, 416 with
`Content-Range: bytes */size` for unsatisfiable ranges, 400 for malformed ones); this module adds
the lookup, a strong ETag, conditional GET and fal's error shape. Files are content-addressed, so
the ETag is the key itself and responses may be cached forever.
"""

from __future__ import annotations

import mimetypes
import stat
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

CACHE_CONTROL = "public, max-age=31536000, immutable"


def _not_found() -> Response:
    return JSONResponse({"detail": "File not found"}, status_code=404)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def cached_file_response(
    request: Request,
    path: Path | None,
    key: str,
    filename: str,
    content_type: str | None = None,
) -> Response:
    """The cached render ``key`` at ``path`` (None: unknown) with Range, a strong ETag and
    conditional GET."""
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
    # renders are MP4s; a file made by rule is served as its name says (bytes when unknown)
    media_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        stat_result=stat_result,
        filename=filename,
        content_disposition_type="inline",
    )
