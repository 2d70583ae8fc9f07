"""Pass-through to live fal, opt in: calls for the endpoints a user names go to fal itself.

``serve --passthrough ID`` (repeatable; ``*`` for every endpoint the emulator does not know)
forwards a submit or sync run of that endpoint to fal's queue or run host with the user's real
key (``--passthrough-key``), never the client's, and every later status, stream, result or
cancel of the request it returned to the URL fal gave. A budget caps the calls that may cost
money (``--passthrough-budget``, submits and runs, like the live suite's): past it the emulator
refuses instead. The journal records each call as the client made it, its key masked; the real
key is only ever on the way out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.fal.errors import request_error
from mockserver.fal.hosts import base_url

EVERY_UNKNOWN = "*"
LIVE_QUEUE = "https://queue.fal.run"
LIVE_RUN = "https://fal.run"
FORWARDED_HEADERS = ("content-type", "x-fal-request-timeout", "x-fal-queue-priority")
DROPPED_ANSWER_HEADERS = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "connection"}
)
REQUEST_URLS = ("response_url", "status_url", "cancel_url")


class Passthrough:
    def __init__(
        self,
        endpoints: Iterable[str],
        key: str | None,
        budget: int,
        upstream: str | None = None,
    ) -> None:
        self.endpoints = frozenset(endpoints)
        self.key = key
        self.budget = budget
        self.spent = 0
        base = upstream.rstrip("/") if upstream else None
        self.queue_base = base or LIVE_QUEUE
        self.run_base = f"{base}/run" if base else LIVE_RUN
        self.requests: dict[str, str] = {}
        """request id -> the response URL fal gave for it (its later calls go there)."""

    def wants(self, endpoint_id: str, known: bool) -> bool:
        return endpoint_id in self.endpoints or (EVERY_UNKNOWN in self.endpoints and not known)

    def _headers(self, request: Request) -> dict[str, str]:
        headers = {
            name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers
        }
        return {**headers, "authorization": f"Key {self.key}"}

    async def _send(self, method: str, url: str, request: Request, body: bytes = b"") -> Response:
        """fal's answer, streamed through as it arrives (a status stream stays live)."""
        import httpx  # only a forwarding emulator needs it: serve's start-up does not pay for it

        client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=30))
        try:
            outgoing = client.build_request(
                method, url, content=body, headers=self._headers(request)
            )
            answer = await client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            await client.aclose()
            return request_error(
                502, f"Pass-through to {url} failed: {exc!r}", "passthrough_failed"
            )
        headers = {
            k: v for k, v in answer.headers.items() if k.lower() not in DROPPED_ANSWER_HEADERS
        }
        if answer.headers.get("content-type", "").startswith("text/event-stream"):

            async def close() -> None:
                await answer.aclose()
                await client.aclose()

            return StreamingResponse(
                answer.aiter_raw(), answer.status_code, headers, background=BackgroundTask(close)
            )
        try:
            content = await answer.aread()
        finally:
            await answer.aclose()
            await client.aclose()
        return Response(content, answer.status_code, headers=headers)

    async def submit(self, request: Request, endpoint_id: str, *, sync: bool) -> Response:
        if self.key is None:
            return request_error(
                401, "Pass-through needs your real fal key: --passthrough-key", "passthrough_key"
            )
        if self.spent >= self.budget:
            return request_error(
                402,  # never retried by fal's clients, as a spent budget never comes back
                f"Pass-through budget spent ({self.spent} of {self.budget} calls; "
                "--passthrough-budget)",
                "passthrough_budget",
            )
        self.spent += 1
        base = self.run_base if sync else self.queue_base
        query = f"?{request.url.query}" if request.url.query else ""
        answer = await self._send(
            "POST", f"{base}/{endpoint_id}{query}", request, await request.body()
        )
        if not sync and answer.status_code == 200:
            return self._followed_here(answer, base_url(request))
        return answer

    def _followed_here(self, answer: Response, here: str) -> Response:
        """The submit's answer with its three URLs on this emulator, so the client's later
        calls come here (and go on with the real key), never to fal with the client's key."""
        try:
            data: Any = json.loads(answer.body)
            request_id, response_url = str(data["request_id"]), str(data["response_url"])
        except (ValueError, KeyError, TypeError):
            return answer
        self.requests[request_id] = response_url
        return self._urls_here(answer, here)

    @staticmethod
    def _urls_here(answer: Response, here: str) -> Response:
        """An answer of fal's whose request URLs (submit, status) are turned to this emulator."""
        try:
            data: Any = json.loads(answer.body)
        except ValueError:
            return answer
        if not isinstance(data, dict) or not any(name in data for name in REQUEST_URLS):
            return answer
        for name in REQUEST_URLS:
            if isinstance(data.get(name), str):
                data[name] = here + urlsplit(data[name]).path
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        return Response(json.dumps(data), answer.status_code, headers=headers)

    def forwards(self, request_id: str) -> bool:
        return request_id in self.requests

    async def operation(self, request: Request, request_id: str, op: str) -> Response:
        """A status, stream, result or cancel of a forwarded request, sent where fal said."""
        query = f"?{request.url.query}" if request.url.query else ""
        url = f"{self.requests[request_id]}{op}{query}"
        answer = await self._send(request.method, url, request)
        if isinstance(answer, StreamingResponse):
            return answer
        return self._urls_here(answer, base_url(request))
