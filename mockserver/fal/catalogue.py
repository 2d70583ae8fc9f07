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

from mockserver.fal.auth import LOCKED_ACCOUNT, NO_USER

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


@dataclass(frozen=True)
class GatewayAnswer:
    """What fal's gateway answers by itself for one status code: the default of a scenario's
    ``http_error`` (its ``message``, ``error_type``, ``request_id`` and ``headers`` override)."""

    error_type: str | None
    """None: the bare ``{"detail": ...}`` of the gateway's account checks (401, 403)."""
    message: str
    request_id: bool = True
    """Send ``x-fal-request-id`` (the emulator's own refusals before a request exists do not)."""
    headers: tuple[tuple[str, str], ...] = ()


def _request_error(kind: str) -> GatewayAnswer:
    """A request-error type's own answer: one text per type, wherever it is sent from."""
    return GatewayAnswer(kind, REQUEST_ERRORS[kind].message)


CONCURRENCY_LIMIT = GatewayAnswer(
    "concurrent_requests_limit",
    "Concurrent requests limit reached: every slot of this account is busy",  # [INF] text
    request_id=False,
    headers=(("x-fal-needs-retry", "1"),),
)
"""fal's 429 for a sync run over the account's concurrency limit: the type and the
``X-Fal-Needs-Retry: 1`` header are fal's docs (concurrency-limits page); no live body exists,
so the text is inferred, and no ``Retry-After`` is sent (none is documented). Refused before
a request exists, it carries no request id (INF, as the emulator's other refusals)."""
GATEWAY_ERRORS: dict[int, GatewayAnswer] = {
    400: GatewayAnswer("bad_request", "Bad request"),
    401: GatewayAnswer(None, NO_USER, request_id=False),
    403: GatewayAnswer(None, LOCKED_ACCOUNT, request_id=False),
    404: GatewayAnswer("not_found", "Not found", request_id=False),
    408: _request_error("request_timeout"),
    409: GatewayAnswer("conflict", "Conflict"),
    429: CONCURRENCY_LIMIT,
    500: _request_error("internal_error"),
    502: _request_error("runner_incomplete_response"),
    503: _request_error("runner_scheduling_failure"),
    504: _request_error("request_timeout"),
}
"""The gateway's own answer per status. 401 is the emulator's own unknown-key refusal, 403 the
locked account of live reports; on status, stream, result and cancel a 404 is the route's own
unknown-request answer (``fal/unknown.py``). [INF: the texts of 400, 404, 409; which 5xx fal
sends for which failure.]"""
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
