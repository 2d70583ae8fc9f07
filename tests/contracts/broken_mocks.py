"""Deliberately broken variants of the emulator: ASGI wrappers around the real app.

Each breaks one promise the contract makes, so a test can show the suite catches it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.fal.operations import classify


def _is(scope: Scope, route: str) -> bool:
    return scope["type"] == "http" and classify(scope["method"], "", scope["path"]).route == route


def wrong_status_code(app: ASGIApp) -> ASGIApp:
    """Status polls answer 200 while queued or running (fal answers 202 until COMPLETED)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if not _is(scope, "status"):
            await app(scope, receive, send)
            return

        async def lying_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 202:
                message = {**message, "status": 200}
            await send(message)

        await app(scope, receive, lying_send)

    return wrapped


def rewrite_response(app: ASGIApp, route: str, mutate: Callable[[Any], Any]) -> ASGIApp:
    """Buffer the JSON answers of ``route`` and send ``mutate(body)`` instead."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if not _is(scope, route):
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffering_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = json.dumps(mutate(json.loads(b"".join(chunks)))).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, buffering_send)

    return wrapped


def missing_cancel_url(app: ASGIApp) -> ASGIApp:
    """Submit answers without ``cancel_url`` (Python's client raises KeyError on it)."""
    return rewrite_response(
        app, "submit", lambda body: {k: v for k, v in body.items() if k != "cancel_url"}
    )


def rewrite_request(app: ASGIApp, mutate: Callable[[dict[str, Any]], None]) -> ASGIApp:
    """Submits and runs reach the app with ``mutate`` applied to their JSON object body."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if not (_is(scope, "submit") or _is(scope, "run")):
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.loads(b"".join(chunks) or b"{}")
        if isinstance(body, dict):
            mutate(body)
        raw = json.dumps(body).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await app({**scope, "headers": headers}, replay, send)

    return wrapped


def wrong_video_size(app: ASGIApp) -> ASGIApp:
    """Renders 9:16 when 16:9 is asked for (and the other way round)."""
    swap = {"16:9": "9:16", "9:16": "16:9"}

    def mutate(body: dict[str, Any]) -> None:
        body["aspect_ratio"] = swap.get(body.get("aspect_ratio", "16:9"), "16:9")

    return rewrite_request(app, mutate)


def wrong_source_duration(app: ASGIApp) -> ASGIApp:
    """Reframes (or modifies) another clip than the one sent: a 2 s one, whatever came in."""
    from contracts.generation.strategies import mp4_data_uri

    def mutate(body: dict[str, Any]) -> None:
        if "video_url" in body:
            body["video_url"] = mp4_data_uri(192, 108, 2.0)

    return rewrite_request(app, mutate)
