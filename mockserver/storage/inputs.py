"""What storage clients send, read and checked: bodies streamed to disk under a cap, media
types, file names, the object-lifecycle header, and the URLs of stored objects."""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.fal.errors import request_error, validation_error
from mockserver.fal.hosts import cdn_file_url
from mockserver.storage.files import FILE_ID_LENGTH, StoredObject

STORAGE_TYPE = "fal-cdn-v3"
"""The one storage type fal still serves: ``gcs`` (fal_client's fallback) answers 400 live
since 2026, and the legacy ``fal-cdn`` is gone from fal's code. A request without one is
accepted (inferred)."""
INVALID_STORAGE_TYPE = b'{"detail":"Invalid storage type"}'
"""fal's answer to any other ``storage_type``, as captured (compact, no ``error_type``)."""
TOKEN_SECONDS = 30 * 86400.0
"""Lifetime of a CDN token: a live token of 2026-09 was valid for 30 days. The Python client
refreshes on expiry by the wall clock, the emulator expires it on its own clock."""
UPLOAD_URL_SECONDS = 3600.0
"""Lifetime of a signed ``upload_url`` from initiate, like a GCS signed URL."""
TOKEN_REFUSALS = {
    "unknown": ("Invalid CDN token", "invalid_token"),
    "expired": ("CDN token expired: request a new one from /storage/auth/token", "token_expired"),
}
MAX_PART_NUMBER = 10_000  # S3's limit, which fal's multipart API mirrors
LIFECYCLE_HEADERS = ("x-fal-object-lifecycle-preference", "x-fal-object-lifecycle")
"""Python sends both on uploads, JS the second on initiate, JS queue calls the first."""
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
CDN_FILE_PATH = re.compile(
    rf"^/files/b/(?P<shard>[0-9a-f]+)/(?P<file_id>[A-Za-z0-9_-]{{{FILE_ID_LENGTH}}})_(?P<name>[^/]+)$"
)
"""A file on the emulated CDN, uploaded or generated (``fal.hosts.FILE_PATH``)."""
LEGACY_OBJECT_PATH = re.compile(r"^/files/uploads/(?P<object_id>[A-Za-z0-9_-]+)/(?P<name>[^/]+)$")
"""An upload stored before uploads took fal's URL shape: still served and read."""


def json_safe(value: Any) -> Any:
    """Echoed inputs may hold NaN/Infinity (Python's json accepts them); JSON output cannot."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def error_entry(loc: list[Any], msg: str, kind: str, value: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"loc": loc, "msg": msg, "type": kind}
    if value is not None:
        entry["input"] = json_safe(value)
    return entry


def media_type_of(value: str | None) -> str | None:
    """The media type if ``value`` is a well-formed ``type/subtype[; params]``, else None."""
    main = (value or "").split(";", 1)[0].strip().lower()
    return main if MEDIA_TYPE.match(main) else None


def unsupported_media_type(value: str | None, where: str) -> Response:
    return request_error(
        415,
        f"Content-Type {value!r} {where} is not a valid media type (expected type/subtype, "
        "e.g. image/png or application/octet-stream)",
        "unsupported_media_type",
    )


def safe_name(raw: str | None, media_type: str) -> str:
    """A file name that is one URL path segment; fal's clients send a basename or nothing."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    if name in ("", ".", ".."):
        name = "upload" + (mimetypes.guess_extension(media_type) or ".bin")
    return name


def iso_time(seconds: float) -> str:
    """A token's timestamps as fal writes them: ISO 8601, microseconds, ``+00:00`` (not ``Z``,
    which ``datetime.fromisoformat`` before Python 3.11 rejects)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def object_url(request: Request, obj: StoredObject) -> str:
    """An upload's URL, in the shape of fal's own: ``files/b/<shard>/<id>_<file name>``."""
    return cdn_file_url(request, obj.shard or "", obj.object_id, obj.file_name)


def lifecycle_seconds(request: Request) -> float | None | Response:
    """``expiration_duration_seconds`` from the lifecycle header (None: never expires), or a
    422 explaining why not. fal's backends read null and 0 as no expiration (fal_client's
    source says so); what they answer for a negative or a non-number is not known."""
    for name in LIFECYCLE_HEADERS:
        raw = request.headers.get(name)
        if raw is None:
            continue
        loc = ["header", name]
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return validation_error([error_entry(loc, "Invalid JSON", "json_invalid", raw)])
        if not isinstance(value, dict):
            return validation_error(
                [error_entry(loc, "Input should be a valid dictionary", "dict_type", value)]
            )
        seconds = value.get("expiration_duration_seconds")
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if seconds is None or (number and seconds == 0):
            return None  # null and 0: no expiration
        if not number or not 0 < seconds < math.inf:  # NaN fails too
            return validation_error(
                [
                    error_entry(
                        [*loc, "expiration_duration_seconds"],
                        "Input should be a number greater than or equal to 0",
                        "greater_than_equal",
                        seconds,
                    )
                ]
            )
        return float(seconds)
    return None


async def receive_body(request: Request, dest: Path, limit: int) -> tuple[int, str] | Response:
    """Stream the body to ``dest`` (size, MD5 hex) or refuse it with 413.

    An oversize body is still read to its end (and dropped): answering mid-upload would
    reset the connection, which the Python client treats as a transport error and retries.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with dest.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limit:
                    md5.update(chunk)
                    out.write(chunk)
    except ClientDisconnect:
        dest.unlink(missing_ok=True)
        return request_error(400, "Client disconnected before sending the body", "bad_request")
    if size > limit:
        dest.unlink(missing_ok=True)
        return request_error(
            413, f"Upload exceeds the emulator's limit of {limit} bytes", "payload_too_large"
        )
    return size, md5.hexdigest()
