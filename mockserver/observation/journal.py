"""The request journal: every fal request and its response, newest last, in a bounded ring.

Tests ask it what a client really did ("three POSTs to submit, two 503s then a 200"), so it
records the request as sent (method, host, path, query, headers, body prefix) and the answer
(status, headers, body prefix, duration). It is a pure ASGI middleware: the hot path only
copies a few references; bodies are kept as raw prefixes and decoded when somebody reads the
journal. Streaming responses (SSE, video) pass through untouched; only their first bytes are
kept. Credentials never reach the journal: ``Authorization`` is stored as ``Key ****abcd``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.schemas.endpoints import APP_ID, ENDPOINT_FACTS
from mockserver.fal.operations import FalCall, classify
from mockserver.observation.masking import mask_secret

DEFAULT_JOURNAL_SIZE = 1000
BODY_PREFIX_BYTES = 16 * 1024
"""Bodies beyond this are cut (``*_truncated``); enough for any Ray 2 input short of data: URIs."""
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
TEXT_TYPES = ("application/json", "text/", "application/problem+json")
CALL_SCOPE_KEY = "ray2_mock.call"
ENTRY_SCOPE_KEY = "ray2_mock.journal_entry"
TRANSPORT_SCOPE_KEY = "ray2_mock.transport"


def _decode(raw: bytes, content_type: str, truncated: bool) -> Any:
    """JSON when it is complete JSON, text when it is text, None for binary bodies."""
    if not raw:
        return None
    if not content_type.startswith(TEXT_TYPES) and content_type:
        return None
    text = raw.decode("utf-8", errors="replace")
    if not truncated and "json" in content_type:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass
    return text


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def fidelity_of(endpoint_id: str | None) -> str | None:
    """``exact`` or ``generic``, as the endpoint's row says: a generic answer is made by rule,
    and the journal says so beside each entry about it."""
    if endpoint_id == APP_ID:  # a request operation under Ray 2's owner/alias: no lookup
        return ENDPOINT_FACTS[f"{APP_ID}/ray-2"].fidelity
    facts = ENDPOINT_FACTS.get(endpoint_id or "")
    return facts.fidelity if facts else None


@dataclass
class JournalEntry:
    id: int
    at: float
    """Emulated time (the queue's clock) when the request arrived."""
    method: str
    host: str
    path: str
    query: str
    route: str
    endpoint_id: str | None
    request_id: str | None
    raw_request_headers: list[tuple[bytes, bytes]] = field(repr=False)
    """As the server gave them; decoded (and masked) only when somebody reads the journal."""
    status: int | None = None
    raw_response_headers: list[tuple[bytes, bytes]] = field(default_factory=list, repr=False)
    duration_ms: float | None = None
    finished: bool = False
    dropped: bool = False
    error: str | None = None
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """The emulator's remarks on this request's output (a placeholder image, a cache hit)."""
    request_raw: bytearray = field(default_factory=bytearray, repr=False)
    request_bytes: int = 0
    response_raw: bytearray = field(default_factory=bytearray, repr=False)
    response_bytes: int = 0
    received_at: float = 0.0
    """Wall-clock Unix seconds when it arrived (``at`` is the emulated clock's)."""
    _started: float = field(default=0.0, repr=False)

    @property
    def request_headers(self) -> dict[str, str]:
        return _headers(self.raw_request_headers)

    @property
    def response_headers(self) -> dict[str, str]:
        return _headers(self.raw_response_headers)

    def to_dict(self) -> dict[str, Any]:
        request_headers, response_headers = self.request_headers, self.response_headers
        request_type = request_headers.get("content-type", "application/json")
        response_type = response_headers.get("content-type", "")
        request_cut = self.request_bytes > len(self.request_raw)
        response_cut = self.response_bytes > len(self.response_raw)
        return {
            "id": self.id,
            "at": self.at,
            "timestamp": _iso(self.at),
            "received_at": self.received_at,
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "query": self.query,
            "route": self.route,
            "endpoint_id": self.endpoint_id,
            "fidelity": fidelity_of(self.endpoint_id),
            "request_id": self.request_id,
            "request_headers": request_headers,
            "request_body": _decode(bytes(self.request_raw), request_type, request_cut),
            "request_bytes": self.request_bytes,
            "request_body_truncated": request_cut,
            "status": self.status,
            "response_headers": response_headers,
            "response_body": _decode(bytes(self.response_raw), response_type, response_cut),
            "response_bytes": self.response_bytes,
            "response_body_truncated": response_cut,
            "duration_ms": self.duration_ms,
            "finished": self.finished,
            "dropped": self.dropped,
            "error": self.error,
            "faults": list(self.faults),
            "emulator_notes": list(self.notes),
        }


@dataclass(frozen=True)
class JournalFilter:
    """Which entries a reader wants; every field left None matches everything."""

    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    route: str | None = None
    endpoint: str | None = None
    request_id: str | None = None
    status: int | None = None
    since: int | None = None
    """Only entries with a larger id (poll the journal incrementally)."""

    def matches(self, entry: JournalEntry) -> bool:
        return (
            (self.method is None or entry.method == self.method.upper())
            and (self.path is None or entry.path == self.path)
            and (self.path_prefix is None or entry.path.startswith(self.path_prefix))
            and (self.route is None or entry.route == self.route)
            and (self.endpoint is None or entry.endpoint_id == self.endpoint)
            and (self.request_id is None or entry.request_id == self.request_id)
            and (self.status is None or entry.status == self.status)
            and (self.since is None or entry.id > self.since)
        )


class Journal:
    """A ring buffer of entries; the oldest fall out once ``size`` is reached.

    Size 0 turns it off (``--journal-size 0``): entries still feed the metrics, but none is
    kept, so every one counts as evicted."""

    def __init__(self, size: int = DEFAULT_JOURNAL_SIZE) -> None:
        if size < 0:
            raise ValueError("the journal size cannot be negative")
        self.size = size
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self.evicted = 0
        # request id -> endpoint id, learned from submits, so later polls name their endpoint
        self._endpoints: OrderedDict[str, str] = OrderedDict()
        self._notes: OrderedDict[str, list[str]] = OrderedDict()  # request id -> its notes

    def open(
        self,
        call: FalCall,
        method: str,
        host: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
    ) -> JournalEntry:
        if len(self._entries) == self.size:
            self.evicted += 1
        entry = JournalEntry(
            id=next(self._ids),
            at=0.0,
            method=method,
            host=host,
            path=path,
            query=query,
            route=call.route,
            endpoint_id=self._endpoints.get(call.request_id or "", call.endpoint_id),
            request_id=call.request_id,
            raw_request_headers=headers,
        )
        self._entries.append(entry)
        return entry

    def learn(self, request_id: str, endpoint_id: str) -> None:
        self._endpoints[request_id] = endpoint_id
        while len(self._endpoints) > 4 * self.size:
            self._endpoints.popitem(last=False)

    def annotate(self, request_id: str, notes: list[str]) -> None:
        """Attach the emulator's notes to every entry of one request, kept or yet to come.

        Held by request id and applied when the journal is read: a completion must not scan
        the whole ring (it did, and cost a tenth of a submit's time)."""
        if not self.size:
            return
        self._notes[request_id] = list(notes)
        while len(self._notes) > 4 * self.size:
            self._notes.popitem(last=False)

    def entries(
        self, where: JournalFilter | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        chosen = [e for e in self._entries if where is None or where.matches(e)]
        for entry in chosen:
            if (notes := self._notes.get(entry.request_id or "")) is not None:
                entry.notes = list(notes)
        return chosen[-limit:] if limit else chosen

    def on_finish(self, observe: Callable[[JournalEntry], None]) -> Callable[[JournalEntry], None]:
        """What the middleware calls with each finished entry: ``observe`` (the metrics) here;
        a journal that writes entries elsewhere adds its own step (``shared/journal.py``)."""
        return observe

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._endpoints.clear()
        self._notes.clear()
        return count

    def __len__(self) -> int:
        return len(self._entries)


def _header(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """One header from a raw ASGI list (names are lowercase there), without decoding the rest."""
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[name] = mask_secret(text) if name in SECRET_HEADERS else text
    return out


class JournalMiddleware:
    """Outermost middleware: classifies each request, journals it, feeds the metrics.

    It also leaves the classification (``CALL_SCOPE_KEY``), the entry (``ENTRY_SCOPE_KEY``) and
    the connection's transport (``TRANSPORT_SCOPE_KEY``, so a fault can drop the connection) in
    the scope for the middleware and handlers inside it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        journal: Journal,
        clock: Callable[[], float] = time.time,
        observe: Callable[[JournalEntry], None] | None = None,
        body_prefix: int = BODY_PREFIX_BYTES,
    ) -> None:
        self.app = app
        self.journal = journal
        self.clock = clock
        self.observe = observe
        self.body_prefix = body_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope["headers"]
        path: str = scope["path"]
        method: str = scope["method"]
        host = _header(raw_headers, b"host") or ""
        call = scope.get(CALL_SCOPE_KEY)  # the gateway classified it already
        if call is None:
            call = classify(method, host, path, _header(raw_headers, b"x-fal-target-url"))
            scope[CALL_SCOPE_KEY] = call
            transport = getattr(getattr(receive, "__self__", None), "transport", None)
            scope[TRANSPORT_SCOPE_KEY] = transport
        if call.route == "control":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        entry = self.journal.open(call, method, host, path, query, list(raw_headers))
        entry.at = self.clock()
        entry.received_at = time.time()
        entry._started = time.perf_counter()
        scope[ENTRY_SCOPE_KEY] = entry
        limit = self.body_prefix

        async def journal_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                entry.request_bytes += len(body)
                room = limit - len(entry.request_raw)
                if room > 0 and body:
                    entry.request_raw += body[:room]
            return message

        capture = True

        async def journal_send(message: Message) -> None:
            nonlocal capture
            kind = message["type"]
            if kind == "http.response.start":
                entry.status = message["status"]
                raw = entry.raw_response_headers = list(message.get("headers", ()))
                capture = (_header(raw, b"content-type") or "").startswith(TEXT_TYPES)
                request_id = _header(raw, b"x-fal-request-id")
                if request_id:
                    entry.request_id = request_id
                    if call.route in ("submit", "run") and call.endpoint_id:
                        self.journal.learn(request_id, call.endpoint_id)
            elif kind == "http.response.body":
                body = message.get("body", b"")
                entry.response_bytes += len(body)
                room = limit - len(entry.response_raw)
                if capture and room > 0 and body:
                    entry.response_raw += body[:room]
                if not message.get("more_body", False):
                    self._finish(entry)
            await send(message)

        try:
            await self.app(scope, journal_receive, journal_send)
        except BaseException as exc:
            entry.error = repr(exc)
            if isinstance(exc, Exception) and entry.status is None:
                entry.status = 500  # what the server's crash handler answers
            raise
        finally:
            if entry.status is None and entry.error is None and not entry.dropped:
                entry.error = "no response"
            self._finish(entry)

    def _finish(self, entry: JournalEntry) -> None:
        if entry.finished:
            return
        entry.finished = True
        entry.duration_ms = round((time.perf_counter() - entry._started) * 1000, 3)
        if self.observe is not None:
            self.observe(entry)


def entries_json(entries: Iterable[JournalEntry]) -> list[Mapping[str, Any]]:
    return [entry.to_dict() for entry in entries]
