"""What a client really sent: HTTP exchanges seen by the server, and faults injected into them.

Client checks judge traffic, not the client's own account of it. Two sources give the same
``Exchange`` records:

- ``TrafficTap``: an ASGI wrapper around the in-process emulator (the ``mock`` target). It
  records every exchange and can answer the next matching calls with a fault (429, an
  ingress-style 503, a dropped connection or a stream cut after its first event), so client
  checks run without any control API.
- ``JournalTraffic``: the ``GET /_mock/journal`` control API of a running ``ray2-mock serve``
  (a URL target), read and normalised into the same records; ``ScenarioFaults`` injects the
  same faults there through ``POST /_mock/scenarios``.

Credentials are never kept: ``Authorization`` is stored as ``<scheme> ****<last 4>``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.strategies import INPUT_SCHEMAS

BODY_LIMIT = 64 * 1024
ENDPOINT_IDS = frozenset(INPUT_SCHEMAS)
REQUEST_OP = re.compile(
    r"^/(?P<app>.+?)/requests/(?P<request_id>[^/]+)(?P<op>/status/stream|/status|/cancel)?/?$"
)
OPS = {"": "result", "/status": "status", "/status/stream": "stream", "/cancel": "cancel"}
INGRESS_503_BODY = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center>"
    b"</body></html>"
)
"""What fal's ingress answers when it is overloaded: no x-fal-request-id, an nginx page
(Python's client retries exactly this kind of 5xx; JS retries every 503)."""


def mask_secret(value: str) -> str:
    """Enough of a credential to compare two, nothing more (same form as the journal's)."""
    scheme, sep, credentials = value.strip().partition(" ")
    if not sep:
        scheme, credentials = "", scheme
    tail = credentials[-4:] if len(credentials) >= 8 else ""
    return f"{scheme} ****{tail}" if scheme else f"****{tail}"


def classify(method: str, path: str) -> tuple[str, str | None, str | None]:
    """(route, endpoint id, request id) of a fal API path in the loopback layout."""
    sync = path.startswith("/run/")
    endpoint = path.removeprefix("/run").strip("/")
    if endpoint in ENDPOINT_IDS:
        return ("run" if sync else "submit"), endpoint, None
    match = None if sync else REQUEST_OP.match(path)
    if match:
        return OPS[match["op"] or ""], None, match["request_id"]
    if path.startswith("/_mock/"):
        return "control", None, None
    if path.startswith("/files/"):
        return "media", None, None
    return "other", None, None


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or not content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


@dataclass
class Exchange:
    """One request and its answer, as the server saw them."""

    at: float
    """Wall-clock seconds when the request arrived (the tap) or emulated time (the journal)."""
    method: str
    path: str
    query: str
    route: str
    endpoint_id: str | None
    request_id: str | None
    request_headers: dict[str, str]
    request_body: Any = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    dropped: bool = False
    fault: str | None = None

    def line(self) -> str:
        query = f"?{self.query}" if self.query else ""
        outcome = "dropped" if self.dropped else str(self.status)
        note = f"  [injected: {self.fault}]" if self.fault else ""
        return f"{self.method} {self.path}{query} -> {outcome}{note}"


@dataclass
class Fault:
    """Answer the matching calls with a failure instead of the emulator's reply.

    ``after`` matching calls pass first; the next ``times`` get the fault. ``kind``:
    ``respond`` sends ``status``/``headers``/``body``; ``drop`` closes the connection before
    any response; ``cut`` lets the response start and closes the connection after its first
    chunk of body (a status stream then ends after one event).
    """

    route: str
    kind: Literal["respond", "drop", "cut"] = "respond"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    times: int = 1
    after: int = 0
    name: str = ""

    @classmethod
    def rate_limited(cls, route: str = "submit", times: int = 1) -> Fault:
        body = json.dumps({"detail": "Rate limit exceeded", "error_type": "rate_limited"})
        headers = {"retry-after": "1", "content-type": "application/json"}
        return cls(route, "respond", 429, headers, body.encode(), times, name="429 rate limited")

    @classmethod
    def ingress_unavailable(cls, route: str = "submit", times: int = 1) -> Fault:
        headers = {"content-type": "text/html"}
        return cls(route, "respond", 503, headers, INGRESS_503_BODY, times, name="503 ingress")

    @classmethod
    def dropped(cls, route: str = "status", after: int = 1) -> Fault:
        return cls(route, "drop", after=after, name=f"dropped {route} connection")

    @classmethod
    def cut_stream(cls, after: int = 0) -> Fault:
        return cls("stream", "cut", after=after, name="status stream cut after one event")


class TrafficTap:
    """ASGI wrapper that records every exchange and applies injected faults.

    It runs on the emulator's loop; tests read it from their own thread, hence the lock.
    """

    def __init__(self, app: ASGIApp, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._faults: list[Fault] = []

    # -- reading and steering (any thread) ---------------------------------------------------

    def exchanges(self, *, request_id: str | None = None) -> list[Exchange]:
        with self._lock:
            chosen = list(self._exchanges)
        if request_id is not None:
            chosen = [e for e in chosen if e.request_id == request_id]
        return chosen

    def clear(self) -> None:
        with self._lock:
            self._exchanges.clear()
            self._faults.clear()

    def inject(self, *faults: Fault) -> None:
        # Copies: the countdown below must not spend the caller's (often shared) definitions.
        with self._lock:
            self._faults.extend(replace(fault) for fault in faults)

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.route != route:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- the ASGI side -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "authorization" in headers:
            headers["authorization"] = mask_secret(headers["authorization"])
        route, endpoint_id, request_id = classify(scope["method"], scope["path"])
        entry = Exchange(
            at=self.clock(),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            route=route,
            endpoint_id=endpoint_id,
            request_id=request_id,
            request_headers=headers,
        )
        if route in ("control", "media"):
            await self.app(scope, receive, send)
            return
        with self._lock:
            self._exchanges.append(entry)
        request_raw = bytearray()
        response_raw = bytearray()
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        fault = self._take_fault(route)

        async def tapped_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_raw.extend(message.get("body", b"")[: BODY_LIMIT - len(request_raw)])
            return message

        cut = False

        async def tapped_send(message: Message) -> None:
            nonlocal cut
            if cut:
                return
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                entry.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", ())
                }
                entry.request_id = entry.request_id or entry.response_headers.get(
                    "x-fal-request-id"
                )
            elif message["type"] == "http.response.body":
                response_raw.extend(message.get("body", b"")[: BODY_LIMIT - len(response_raw)])
            await send(message)
            if fault is not None and fault.kind == "cut" and b"data:" in response_raw:
                cut = True
                entry.dropped = True
                await _close(transport)

        try:
            if fault is not None and fault.kind in ("respond", "drop"):
                await self._apply(fault, entry, tapped_receive, tapped_send, transport)
            else:
                await self.app(scope, tapped_receive, tapped_send)
        finally:
            kind = headers.get("content-type", "")
            entry.request_body = _decode(bytes(request_raw), kind)
            entry.response_body = _decode(
                bytes(response_raw), entry.response_headers.get("content-type", "")
            )
            entry.fault = (fault.name or fault.kind) if fault is not None else None

    async def _apply(
        self, fault: Fault, entry: Exchange, receive: Receive, send: Send, transport: Any
    ) -> None:
        while (await receive()).get("more_body", False):  # read the body like a server would
            pass
        if fault.kind == "drop":
            entry.dropped = True
            await _close(transport)
            return
        headers = [(k.encode(), v.encode()) for k, v in fault.headers.items()]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": fault.body})


async def _close(transport: Any) -> None:
    """Cut the TCP connection under the response, as a crashing proxy or network would."""
    if transport is not None:
        transport.close()
    for _ in range(3):  # let the server notice before the handler returns
        await asyncio.sleep(0)


# -- the journal of a running ray2-mock ----------------------------------------------------------


class JournalTraffic:
    """Reads ``GET /_mock/journal`` of a running emulator into ``Exchange`` records."""

    def __init__(self, base_url: str, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=30)

    def available(self) -> bool:
        try:
            response = self.http.get(f"{self.base_url}/_mock/journal", params={"limit": 1})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "entries" in response.json()

    def exchanges(self, *, request_id: str | None = None) -> list[Exchange]:
        params = {"request_id": request_id} if request_id else {}
        response = self.http.get(f"{self.base_url}/_mock/journal", params=params)
        response.raise_for_status()
        return [self._exchange(entry) for entry in response.json()["entries"]]

    def clear(self) -> None:
        self.http.delete(f"{self.base_url}/_mock/journal").raise_for_status()

    @staticmethod
    def _exchange(entry: dict[str, Any]) -> Exchange:
        route, endpoint_id, request_id = classify(entry["method"], entry["path"])
        return Exchange(
            at=float(entry.get("at") or 0.0),
            method=entry["method"],
            path=entry["path"],
            query=entry.get("query") or "",
            route=route,
            endpoint_id=entry.get("endpoint_id") or endpoint_id,
            request_id=entry.get("request_id") or request_id,
            request_headers=dict(entry.get("request_headers") or {}),
            request_body=entry.get("request_body"),
            status=entry.get("status"),
            response_headers=dict(entry.get("response_headers") or {}),
            response_body=entry.get("response_body"),
            dropped=bool(entry.get("dropped")),
            fault=", ".join(entry.get("faults") or []) or None,
        )


class ScenarioFaults:
    """Injects ``Fault``s into a running ray2-mock as ``/_mock/scenarios`` rules.

    A cut stream becomes a dropped stream connection (the scenarios drop before answering);
    ``after`` has no scenario equivalent, so only faults on the next calls translate.
    """

    def __init__(self, base_url: str, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=30)
        self._names: list[str] = []

    def available(self) -> bool:
        try:
            response = self.http.get(f"{self.base_url}/_mock/scenarios")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    @staticmethod
    def scenario(fault: Fault, name: str) -> dict[str, Any]:
        if fault.after:
            raise ValueError(f"{fault.name or fault.kind}: scenarios cannot skip calls first")
        rule: dict[str, Any] = {"name": name, "times": fault.times, "match": {"route": fault.route}}
        if fault.kind in ("drop", "cut"):
            rule["drop"] = True
        elif fault.body == INGRESS_503_BODY:
            rule["http_error"] = {"status": fault.status, "ingress": True}
        else:
            error: dict[str, Any] = {"status": fault.status}
            if "retry-after" in fault.headers:
                error["retry_after"] = float(fault.headers["retry-after"])
            rule["http_error"] = error
        return rule

    def inject(self, *faults: Fault) -> None:
        for fault in faults:
            name = f"contracts-{len(self._names) + 1}"
            url = f"{self.base_url}/_mock/scenarios"
            self.http.post(url, json=self.scenario(fault, name)).raise_for_status()
            self._names.append(name)

    def clear(self) -> None:
        for name in self._names:
            self.http.delete(f"{self.base_url}/_mock/scenarios/{name}")
        self._names.clear()
