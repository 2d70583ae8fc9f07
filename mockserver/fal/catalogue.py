"""fal's error catalogue, as data: status codes, shapes and messages of each error type.

Two shapes exist at fal. Model errors (fal-toolkit's exceptions, fal's error docs) carry
``{"detail": [{loc, msg, type, input, ctx}]}`` and ``X-Fal-Retryable``; request
(infrastructure) errors carry ``{"detail": "...", "error_type": "..."}`` and
``X-Fal-Error-Type``. Scenarios name an error type; this module knows what it looks like.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DocPath = tuple[str | int, ...]
ERRORS_DOC_URL = "https://docs.fal.ai/errors/"
"""Each model error entry links ``<this page>#<type>`` (fal's "Model Errors" docs)."""


@dataclass(frozen=True)
class ErrorKind:
    """One fal error type: how it is shaped and what fal answers by default."""

    status: int
    message: str
    model: bool
    """Model errors carry ``{"detail": [{loc, msg, type, ...}]}``; request errors a flat
    ``{"detail": "...", "error_type": "..."}`` plus ``X-Fal-Error-Type``."""
    loc: DocPath = ("body",)
    retryable: bool = False


# Model errors: fal-toolkit's exceptions (status, msg, type; X-Fal-Retryable false by default,
# 5xx not billed) and fal's error docs (content_policy_violation; the video types, which the
# reframe and modify endpoints answer for an input video they cannot use).
MODEL_ERRORS: dict[str, ErrorKind] = {
    "content_policy_violation": ErrorKind(
        422,
        "The content could not be processed because it contained material flagged by a"
        " content checker.",
        True,
        ("body", "prompt"),
    ),
    "image_load_error": ErrorKind(
        422,
        "Failed to load the image. Please ensure the image file is not corrupted and is in a"
        " supported format.",
        True,
        ("body", "image_url"),
    ),
    "file_download_error": ErrorKind(
        422,
        "Failed to download the file. Please check if the URL is accessible and try again.",
        True,
        ("body", "image_url"),
    ),
    "file_too_large": ErrorKind(
        422, "File size exceeds the maximum allowed", True, ("body", "video_url")
    ),
    "unsupported_video_format": ErrorKind(
        422, "Unsupported video format", True, ("body", "video_url")
    ),
    "video_duration_too_long": ErrorKind(
        422, "Video duration exceeds the maximum allowed", True, ("body", "video_url")
    ),
    "image_too_small": ErrorKind(422, "Image too small", True, ("body", "image_url")),
    "image_too_large": ErrorKind(422, "Image too large", True, ("body", "image_url")),
    "no_media_generated": ErrorKind(422, "No media was generated", True),
    "internal_server_error": ErrorKind(500, "Internal server error", True),
    "generation_timeout": ErrorKind(504, "Generation timeout", True),
    "downstream_service_error": ErrorKind(500, "Downstream service error", True),
    "downstream_service_unavailable": ErrorKind(504, "Downstream service unavailable", True),
}
# Request (infrastructure) errors: fal's request-errors page, with its typical status codes.
REQUEST_ERRORS: dict[str, ErrorKind] = {
    "request_timeout": ErrorKind(504, "Request timed out", False),
    "startup_timeout": ErrorKind(504, "The runner did not start within the allowed time", False),
    "runner_scheduling_failure": ErrorKind(503, "No runner could be allocated", False),
    "runner_connection_timeout": ErrorKind(503, "The connection to the runner timed out", False),
    "runner_disconnected": ErrorKind(503, "The runner disconnected unexpectedly", False),
    "runner_connection_refused": ErrorKind(503, "The runner refused the connection", False),
    "runner_connection_error": ErrorKind(503, "Could not connect to the runner", False),
    "runner_incomplete_response": ErrorKind(502, "The runner sent an incomplete response", False),
    "runner_server_error": ErrorKind(500, "The runner hit an internal server error", False),
    "internal_error": ErrorKind(500, "An unexpected internal error occurred", False),
}
ERROR_KINDS: dict[str, ErrorKind] = {**MODEL_ERRORS, **REQUEST_ERRORS}

# The gateway's own answers by status (http_error without an error_type). [INF: fal does not
# document its 429 body; the Python client only looks at the status.]
GATEWAY_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "No user found for the given key"),
    403: ("forbidden", "Access denied"),
    404: ("not_found", "Not found"),
    408: ("request_timeout", "Request timeout"),
    409: ("conflict", "Conflict"),
    429: ("too_many_requests", "Too many requests: concurrency limit reached"),
    500: ("internal_error", "An unexpected internal error occurred"),
    502: ("runner_incomplete_response", "Bad gateway"),
    503: ("runner_scheduling_failure", "No runner could be allocated"),
    504: ("request_timeout", "Request timed out"),
}
REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def fal_error(
    kind_name: str,
    *,
    status: int | None = None,
    message: str | None = None,
    retryable: bool | None = None,
    loc: Iterable[str | int] | None = None,
    payload: Any = None,
) -> dict[str, Any]:
    """The error record the queue stores and the result endpoint replays (status, body, headers)."""
    kind = ERROR_KINDS[kind_name]
    code = status or kind.status
    text = message or kind.message
    flag = kind.retryable if retryable is None else retryable
    headers = {"x-fal-retryable": "true" if flag else "false"}
    if kind.model:
        where = list(loc if loc is not None else kind.loc)
        given = payload.get(where[1]) if isinstance(payload, dict) and len(where) > 1 else None
        entry = {
            "loc": where,
            "msg": text,
            "type": kind_name,
            "url": f"{ERRORS_DOC_URL}#{kind_name}",  # [REQUIRED] in fal's Model Errors docs
            "input": given,
        }
        body: dict[str, Any] = {"detail": [entry]}
        if code >= 500:
            headers["x-fal-billable-units"] = "0"  # fal does not bill 5xx
    else:
        body = {"detail": text, "error_type": kind_name}
    return {"status_code": code, "error_type": kind_name, "body": body, "headers": headers}
