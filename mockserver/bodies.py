"""Reading request bodies: capped, with the same refusals on every route.

The fal API hands what it reads to FastAPI's body rules (``fal.validation``); the storage and
control APIs take a JSON object. All three read through ``read_body``, so no route buffers
an unbounded body and a client that hangs up is a 400, not a crash.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.fal.errors import request_error, validation_error
from mockserver.fal.validation import BodyParseError, parse_json

JSON_OBJECT_BYTES = 1024 * 1024
"""Cap of the small JSON bodies the storage and control APIs take."""


def too_large(limit: int) -> Response:
    return request_error(413, f"Request body exceeds {limit} bytes", "payload_too_large")


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The whole body, or 413 past ``limit`` bytes (a declared length is judged up front)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        return request_error(400, "Client disconnected before sending the body", "bad_request")
    return b"".join(chunks)


async def read_json(request: Request, limit: int = JSON_OBJECT_BYTES) -> Any | Response:
    """A JSON body for the emulator's own APIs: ``{}`` when empty, FastAPI's ``json_invalid``
    422 when it does not parse."""
    raw = await read_body(request, limit)
    if isinstance(raw, Response):
        return raw
    if not raw.strip():
        return {}
    try:
        value, not_json = parse_json(raw)
    except BodyParseError as exc:
        not_json = [{"type": "json_invalid", "loc": ["body"], "msg": exc.detail, "input": {}}]
    return validation_error(not_json) if not_json else value


async def read_json_object(request: Request, limit: int = JSON_OBJECT_BYTES) -> Any | Response:
    """``read_json``, and ``dict_type`` when the body is not an object."""
    value = await read_json(request, limit)
    if isinstance(value, Response | dict):
        return value
    return validation_error(
        [
            {
                "type": "dict_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary",
                "input": value,
            }
        ]
    )
