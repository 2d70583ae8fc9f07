"""fal's error catalogue, as data: status codes, shapes and messages of each error type.

Two shapes exist at fal. Model errors (live captures, fal's error docs) carry
``{"detail": [{loc, msg, type, url, ctx?, input?}]}`` with ``x-fal-billable-units: 0`` and
``X-Fal-Retryable``; request (infrastructure) errors carry ``{"detail": "...", "error_type":
"..."}`` and ``X-Fal-Error-Type``. Scenarios name an error type; this module knows what it
looks like. The input files' errors (``mockserver.media``) write their entries here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from mockserver.fal.auth import LOCKED_ACCOUNT, NO_USER
from mockserver.fal.errors import request_error

if TYPE_CHECKING:
    from mockserver.media import MediaInputError

DocPath = tuple[str | int, ...]
ERRORS_DOC_URL = "https://docs.fal.ai/errors"
"""Each model error entry links ``<this page>#<type>``, no slash before ``#``, as every live
capture writes it (fal's docs examples show ``errors/#<type>``; the captures were followed)."""
ECHO_LIMIT = 120
"""An echoed ``data:`` URI is cut to this many characters (it can be megabytes) [INF]."""
WHOLE_INPUT_TYPES = frozenset({"content_policy_violation"})
"""Types that echo the whole input even on a field (live: ``loc ["body", "prompt"]`` with the
input object); every entry at ``loc ["body"]`` does so too."""


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


# Model errors: fal's error docs and live captures (status, msg, type; X-Fal-Retryable false by
# default, never billed), fal-toolkit's unmerged exceptions where the docs give no sentence; the
# video types are the ones the reframe and modify endpoints answer for an unusable input video.
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
        422,
        "Unsupported video format. Supported formats are .mp4, .mov, .webm.",
        True,
        ("body", "video_url"),
    ),
    "video_duration_too_long": ErrorKind(
        422, "Video duration exceeds the maximum allowed", True, ("body", "video_url")
    ),
    "image_too_small": ErrorKind(422, "Image too small", True, ("body", "image_url")),
    "image_too_large": ErrorKind(422, "Image too large", True, ("body", "image_url")),
    "no_media_generated": ErrorKind(
        422, "The model did not generate the expected output for this prompt.", True
    ),
    "internal_server_error": ErrorKind(500, "Internal server error", True),
    "generation_timeout": ErrorKind(504, "Generation timeout", True),
    # fal's docs (2025-11 and the newer page): 400 and 500; an unmerged toolkit branch says 504.
    "downstream_service_error": ErrorKind(400, "Downstream service error", True),
    "downstream_service_unavailable": ErrorKind(500, "Downstream service unavailable", True),
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

    def response(self, status: int, headers: Mapping[str, str] | None = None) -> Response:
        """This answer on the wire, in the request-error shape (``headers`` added to its own;
        whether to add an ``x-fal-request-id`` is the caller's)."""
        every = {**dict(self.headers), **(headers or {})}
        return request_error(status, self.message, self.error_type, headers=every)


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


def shown(value: Any) -> Any:
    """An input as a model error echoes it: ``data:`` URIs cut short (inside objects too),
    everything else, full URLs included, as sent."""
    if isinstance(value, str):
        cut = value.startswith("data:") and len(value) > ECHO_LIMIT
        return value[:ECHO_LIMIT] + "…" if cut else value
    if isinstance(value, dict):
        return {key: shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def model_error_entry(
    loc: Iterable[str | int],
    msg: str,
    error_type: str,
    *,
    ctx: dict[str, Any] | None = None,
    given: Any = None,
) -> dict[str, Any]:
    """One ``detail`` entry, keys in the live order ``loc, msg, type, url, ctx?, input?``;
    ``input`` is left out, never ``null``, when there is nothing to echo."""
    entry: dict[str, Any] = {
        "loc": list(loc),
        "msg": msg,
        "type": error_type,
        "url": f"{ERRORS_DOC_URL}#{error_type}",
    }
    if ctx:
        entry["ctx"] = ctx
    if given is not None:
        entry["input"] = shown(given)
    return entry


def media_error_detail(error: MediaInputError) -> list[dict[str, Any]]:
    """The ``detail`` list fal answers for an input the model could not use: the type's own
    message unless the media layer wrote one with the input's numbers in it."""
    message = error.msg or MODEL_ERRORS[error.error_type].message
    entry = model_error_entry(
        ["body", error.field], message, error.error_type, ctx=error.ctx, given=error.input_value
    )
    return [entry]


def model_error_headers(retryable: bool = False) -> dict[str, str]:
    """Every model error's headers: not billed (live capture of a fal-hosted model's 422),
    ``X-Fal-Retryable`` as fal's docs describe it [INF: no capture carries it]."""
    return {"x-fal-billable-units": "0", "x-fal-retryable": "true" if retryable else "false"}


def model_error(
    status: int, detail: list[dict[str, Any]], *, retryable: bool = False
) -> dict[str, Any]:
    """The error record of a model error (what the queue stores and the result replays)."""
    return {
        "status_code": status,
        "error_type": detail[0]["type"] if detail else None,
        "body": {"detail": detail},
        "headers": model_error_headers(retryable),
    }


def echoed_input(kind_name: str, loc: list[str | int], payload: Any) -> Any:
    """What an entry echoes: the whole input at ``loc ["body"]`` and for the types in
    ``WHOLE_INPUT_TYPES``, else the field's own value (None: nothing to echo)."""
    if not isinstance(payload, dict):
        return None
    if len(loc) < 2 or kind_name in WHOLE_INPUT_TYPES:
        return payload
    return payload.get(loc[1]) if isinstance(loc[1], str) else None


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
    if kind.model:
        flag = kind.retryable if retryable is None else retryable
        where = list(loc if loc is not None else kind.loc)
        given = echoed_input(kind_name, where, payload)
        return model_error(
            code, [model_error_entry(where, text, kind_name, given=given)], retryable=flag
        )
    body = {"detail": text, "error_type": kind_name}
    return {"status_code": code, "error_type": kind_name, "body": body, "headers": {}}
