"""fal-shaped error responses, so every refusal reads like the real gateway's.

Two shapes exist at fal: model/validation errors carry a ``detail`` *list* of
``{loc, msg, type}`` entries; request/infrastructure errors carry a ``detail`` string and an
``error_type`` (also sent as ``X-Fal-Error-Type``). The gateway's account checks (an unknown
key, a locked account) answer a bare ``{"detail": "..."}``. The gateway writes all of these, so
they carry its ``json.dumps`` spacing (``wire.py``). [inferred: no request error's bytes were
captured; every captured gateway body is spaced.]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from mockserver.fal.wire import gateway_json


def request_error(
    status_code: int,
    detail: str,
    error_type: str | None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The gateway's refusal: ``{"detail", "error_type"}`` plus ``X-Fal-Error-Type``, or with
    no type the bare ``{"detail"}`` its account checks answer."""
    if error_type is None:
        return gateway_json({"detail": detail}, status_code, headers)
    all_headers = {"x-fal-error-type": error_type, **(headers or {})}
    return gateway_json({"detail": detail, "error_type": error_type}, status_code, all_headers)


def validation_error(
    detail: list[dict[str, Any]],
    *,
    status_code: int = 422,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code, headers={"x-fal-retryable": "false", **(headers or {})}
    )


def method_not_allowed(method: str, allowed: Collection[str]) -> Response:
    """405 with ``Allow`` (RFC 9110 requires it), in fal's request-error shape."""
    listed = ", ".join(sorted(allowed))
    return request_error(
        405,
        f"{method} is not allowed here (use {listed})",
        "method_not_allowed",
        headers={"allow": listed},
    )
