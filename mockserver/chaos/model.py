"""Scenarios as the engine holds them: which requests to touch (``Match``) and what to do to
them (``Effects``), a scenario document, and a chaos run's random fault rates.

A scenario is a *match* (route, endpoint, input fields, headers; optionally only the next N
requests) and *effects*. Effects at the gateway happen before fal's handler runs: an HTTP
error (by default what the gateway itself answers for that status: the unknown-key 401, a
429 ``concurrent_requests_limit``, 5xx with or without ``x-fal-request-id``, nginx-style
ingress pages), a dropped connection, latency, a slow or stalled status stream. Effects on the
request's life are handed to the queue when it creates the request: a fal error at
completion (model errors with a ``detail`` list, request errors with ``error_type``),
progression, a slow queue, extra log lines, a given output file. ``parse.py`` reads them from
files and API bodies, ``engine.py`` decides, ``middleware.py`` acts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.responses import Response

from mockserver.fal.catalogue import GATEWAY_ERRORS, REASONS, GatewayAnswer
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.ids import new_request_id
from mockserver.fal.unknown import WRITERS as UNKNOWN_REQUEST_ROUTES
from mockserver.fal.unknown import unknown_request

CREATING_ROUTES = frozenset({"submit", "run"})
"""Routes that create a request: the only ones where effects on its life make sense."""


# -- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpError:
    """An answer from fal's gateway instead of the handler's: by default the one the gateway
    (and the emulator's own checks) send for this status (``catalogue.GATEWAY_ERRORS``)."""

    status: int
    request_id: bool | None = None
    """Send ``x-fal-request-id`` (the Python client never retries a 5xx that has one); None:
    as the status's own answer does."""
    ingress: bool = False
    """An nginx HTML page without fal headers: what the Python client retries on 502-504."""
    retry_after: float | None = None
    error_type: str | None = None
    """None: the status's own type."""
    bare: bool = False
    """``error_type: null``: a bare ``{"detail": ...}`` without a type, as fal's 401/403."""
    message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def response(self, route: str) -> Response:
        """The answer on ``route``."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["retry-after"] = f"{self.retry_after:g}"
        if self.ingress:
            return Response(ingress_page(self.status), self.status, {**NGINX_HEADERS, **headers})
        default = GATEWAY_ERRORS.get(self.status) or GatewayAnswer(
            "http_error", f"HTTP {self.status}"
        )
        sends_id = default.request_id if self.request_id is None else self.request_id
        if sends_id:
            headers["x-fal-request-id"] = new_request_id()
        own = self.message is None and self.error_type is None and not self.bare
        if own and self.status == 404 and route in UNKNOWN_REQUEST_ROUTES:
            return unknown_request(route, {**dict(default.headers), **headers})
        answer = replace(
            default,
            message=self.message or default.message,
            error_type=None if self.bare else self.error_type or default.error_type,
        )
        return answer.response(self.status, headers)


def ingress_page(status: int) -> bytes:
    """nginx's built-in error page (CRLF line ends, as nginx writes it)."""
    reason = REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


NGINX_HEADERS = {"content-type": "text/html"}
"""nginx sends its pages as ``text/html``, with a charset only when configured to."""


@dataclass(frozen=True)
class StreamFault:
    delay: float = 0.0
    """Seconds before each chunk of the status stream (events and keep-alives alike)."""
    stall_after: int | None = None
    """After this many chunks the stream goes silent ..."""
    stall_seconds: float | None = None
    """... for this long (None: until the client gives up)."""
    cut_after: int | None = None
    """Close the connection after this many events (``data:`` chunks) have been sent."""


@dataclass(frozen=True)
class Effects:
    http_error: HttpError | None = None
    drop: bool = False
    latency: float = 0.0
    stream: StreamFault | None = None
    error: dict[str, Any] | None = None
    """A fal error at completion: ``{"type", "status"?, "message"?, "retryable"?, "loc"?}``."""
    progression: str | None = None
    hold_seconds: float = 0.0
    hold_position: int | None = None
    logs: tuple[dict[str, Any], ...] = ()
    output: dict[str, Any] | None = None

    @property
    def shapes_the_request(self) -> bool:
        return bool(
            self.error
            or self.progression
            or self.hold_seconds
            or self.hold_position is not None
            or self.logs
            or self.output
        )


@dataclass(frozen=True)
class Match:
    routes: frozenset[str]
    endpoints: frozenset[str] | None = None
    input: tuple[tuple[str, Any], ...] = ()
    """(field, compiled regex for strings | exact value) pairs."""
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @property
    def needs_record(self) -> bool:
        return self.endpoints is not None or bool(self.input)

    def matches(
        self, route: str, endpoint_id: str | None, payload: Any, headers: Mapping[str, str]
    ) -> bool:
        if route not in self.routes:
            return False
        if self.endpoints is not None and endpoint_id not in self.endpoints:
            return False
        for name, pattern in self.headers:
            value = headers.get(name)
            if value is None or not pattern.search(value):
                return False
        if self.input:
            if not isinstance(payload, dict) or endpoint_id not in ENDPOINTS:
                return False
            arguments = ENDPOINTS[endpoint_id].with_defaults(payload)
            for name, wanted in self.input:
                value = arguments.get(name)
                if isinstance(wanted, re.Pattern):
                    if not isinstance(value, str) or not wanted.search(value):
                        return False
                elif value != wanted or type(value) is not type(wanted):
                    return False
        return True


@dataclass
class Scenario:
    name: str
    match: Match
    effects: Effects
    spec: dict[str, Any]
    """As written (normalised), for ``GET /_mock/scenarios``."""
    times: int | None = None
    hits: int = 0
    after: int = 0
    """Matching calls to let pass before the scenario fires."""
    passed: int = 0

    @property
    def active(self) -> bool:
        return self.times is None or self.hits < self.times

    def fires(self) -> bool:
        """Count one matching call; False while the first ``after`` ones pass."""
        if self.passed < self.after:
            self.passed += 1
            return False
        self.hits += 1
        return True

    def to_json(self) -> dict[str, Any]:
        remaining = None if self.times is None else max(self.times - self.hits, 0)
        return {**self.spec, "name": self.name, "hits": self.hits, "remaining": remaining}


@dataclass(frozen=True)
class FaultDocument:
    scenarios: tuple[Scenario, ...] = ()
    seed: int | None = None
    fault_rate: float | None = None
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    progression: str | None = None


@dataclass(frozen=True)
class RandomFaults:
    seed: int
    rates: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "rates": dict(self.rates)}
