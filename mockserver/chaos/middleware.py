"""Applies the fault rules' decisions to live requests (a pure ASGI middleware).

Sits inside the journal middleware, so every injected answer, drop and delay is journaled
like a real one. Per request it asks ``FaultEngine.decide`` (reading the body first only when
a rule needs input fields), then: waits (latency), drops the connection without a response,
answers in the gateway's place (HTTP error), slows or stalls the status stream, or hands the
request-shaping plan to the submit handler through the scope.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.chaos.engine import FaultEngine
from mockserver.chaos.model import CREATING_ROUTES, StreamFault
from mockserver.fal.operations import FAL_ROUTES, classify
from mockserver.observation.journal import CALL_SCOPE_KEY, ENTRY_SCOPE_KEY, TRANSPORT_SCOPE_KEY
from mockserver.records import PLAN_SCOPE_KEY

log = logging.getLogger(__name__)
DROP_GRACE_SECONDS = 5.0


class DroppedConnection(ConnectionAbortedError):
    """Raised where the server gives no transport to close (e.g. in-process ASGI tests)."""


async def _buffer_body(receive: Receive, limit: int) -> tuple[Receive, Any]:
    """Read the body (up to ``limit``) to match on it, and hand a receive that replays it."""
    messages: list[Message] = []
    size, more = 0, True
    while more and size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    payload = None
    if not more and size <= limit:
        raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        try:
            payload = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            payload = None
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay, payload


def _slowed(send: Send, fault: StreamFault, scope: Scope) -> Send:
    """The status stream as the fault shapes it: chunks late, a silence, or the connection
    closed after ``cut_after`` events."""
    chunks = events = 0

    async def slow_send(message: Message) -> None:
        nonlocal chunks, events
        if message["type"] == "http.response.body":
            if fault.cut_after is not None and events >= fault.cut_after:
                return  # the connection is gone: nothing more reaches the client
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.stall_after is not None and chunks == fault.stall_after:
                if fault.stall_seconds is None:
                    await asyncio.Event().wait()  # silent until the client hangs up
                else:
                    await asyncio.sleep(fault.stall_seconds)
            chunks += 1
            events += b"data:" in message.get("body", b"")
        await send(message)
        if fault.cut_after is not None and events >= fault.cut_after:
            entry = scope.get(ENTRY_SCOPE_KEY)
            if entry is not None:
                entry.dropped = True
            transport = scope.get(TRANSPORT_SCOPE_KEY)
            if transport is not None:
                transport.close()

    return slow_send


async def _drop(scope: Scope, receive: Receive) -> None:
    """Close the connection without a response; return once the server has seen it go."""
    transport = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        raise DroppedConnection("no transport to close: the request fails instead")
    transport.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DROP_GRACE_SECONDS
    while loop.time() < deadline:
        try:
            message = await asyncio.wait_for(receive(), deadline - loop.time())
        except TimeoutError:
            break
        if message["type"] == "http.disconnect":
            return
    log.warning("dropped connection did not report its disconnect in time")


class FaultMiddleware:
    def __init__(self, app: ASGIApp, *, engine: FaultEngine, max_body_bytes: int) -> None:
        self.app = app
        self.engine = engine
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        if scope["type"] != "http" or (
            engine.local and not engine.scenarios and engine.random is None
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        call = scope.get(CALL_SCOPE_KEY) or classify(
            scope["method"], headers.get("host", ""), scope["path"], headers.get("x-fal-target-url")
        )
        if call.route not in FAL_ROUTES:
            await self.app(scope, receive, send)
            return
        if not engine.local:  # replicas share the scenarios: take what changed elsewhere
            await engine.refresh_without_blocking()
            if not engine.scenarios and engine.random is None:
                await self.app(scope, receive, send)
                return
        payload = None
        if engine.needs_input(call):
            receive, payload = await _buffer_body(receive, self.max_body_bytes)
        built = getattr(scope["app"].state, "services", None)  # None before the app started
        decision = engine.decide(call, headers, payload, built.queue.get if built else None)
        if decision is None:
            await self.app(scope, receive, send)
            return
        entry = scope.get(ENTRY_SCOPE_KEY)
        if entry is not None:
            entry.faults.extend(decision.fired)
        effects = decision.effects
        if effects.latency:
            await asyncio.sleep(effects.latency)
        if effects.drop:
            if entry is not None:
                entry.dropped = True
            await _drop(scope, receive)
            return
        if effects.http_error is not None:
            await effects.http_error.response(call.route)(scope, receive, send)
            return
        if call.route in CREATING_ROUTES and effects.shapes_the_request:
            if effects.error and payload is None:
                receive, payload = await _buffer_body(receive, self.max_body_bytes)
            scope[PLAN_SCOPE_KEY] = decision.plan(payload)
        if effects.stream is not None:
            send = _slowed(send, effects.stream, scope)
        await self.app(scope, receive, send)
