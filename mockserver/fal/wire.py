"""How fal's components write JSON, so bodies read like theirs byte for byte.

fal's gateway (queue status and submit bodies, auth refusals, webhooks) writes Python's
``json.dumps`` defaults: ``", "`` and ``": "`` separators, ASCII escapes. The app behind the
queue is FastAPI, whose Starlette ``JSONResponse`` writes compact JSON: its 422s and results
are relayed as the app wrote them. Captures: docs/fidelity.md, "Serialisation".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response


class GatewayJSONResponse(JSONResponse):
    """A body written by fal's gateway rather than by the app."""

    def render(self, content: Any) -> bytes:
        return encode_gateway(content)


def gateway_json(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The gateway's JSON answer: ``GatewayJSONResponse``'s bytes and headers, built without
    Starlette's header bookkeeping (``EncodedJSON``) when the caller sets neither the length
    nor the type itself."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    bodiless = status_code < 200 or status_code in (204, 304)  # Starlette sends no length
    if bodiless or any(k in (b"content-length", b"content-type") for k, _ in raw):
        return GatewayJSONResponse(content, status_code, headers=headers)
    return EncodedJSON(encode_gateway(content), status_code, raw)


_GATEWAY_ENCODER = json.JSONEncoder(allow_nan=False)
_APP_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""Built once: ``json.dumps`` with any non-default argument builds an encoder per call."""


def encode_gateway(content: Any) -> bytes:
    """A body as the gateway writes it (``json.dumps`` defaults)."""
    return _GATEWAY_ENCODER.encode(content).encode()


def encode_app(content: Any) -> bytes:
    """A body as the app writes it (Starlette's compact ``JSONResponse``)."""
    return _APP_ENCODER.encode(content).encode()


class EncodedJSON(Response):
    """A JSON body encoded earlier (a cached status or result): sent as is, headers in the
    order Starlette writes them (the answer's own, then length and type)."""

    def __init__(self, body: bytes, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [
            *headers,
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


AnswerKey = tuple[str, str, int, str, bool]
"""(operation, request id, record version, base URL, with logs): all a settled answer
depends on."""


class Answers:
    """Encoded status and result bodies of requests that no longer change between polls.

    A client polls a finished request again and again (status, then result, often both
    twice); its answer only changes with the record's version, so the JSON is encoded once.
    Bounded: the oldest answers go first."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._kept: dict[AnswerKey, tuple[bytes, int, list[tuple[bytes, bytes]]]] = {}

    def get(self, key: AnswerKey) -> EncodedJSON | None:
        kept = self._kept.get(key)
        return None if kept is None else EncodedJSON(*kept)

    def keep(self, key: AnswerKey, response: Response) -> Response:
        if len(self._kept) >= self.size:
            del self._kept[next(iter(self._kept))]
        headers = [
            h for h in response.raw_headers if h[0] not in (b"content-length", b"content-type")
        ]
        self._kept[key] = (bytes(response.body), response.status_code, headers)
        return response

    def clear(self) -> None:
        self._kept.clear()
