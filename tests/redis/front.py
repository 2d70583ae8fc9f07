"""A round-robin load balancer for the replica tests: each HTTP request (not each connection)
goes to the next replica, so one client's submit, status, stream and result land on different
processes. The ``Host`` header passes through, as a load balancer's does, so the URLs the
replicas answer point back at the front. Answers stream through as the replica writes them
(status streams), and ``served`` says which replica answered what."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import Message, Receive, Scope, Send

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})


class RoundRobin:
    def __init__(self, replicas: Sequence[str]) -> None:
        self.replicas = list(replicas)
        self._next = itertools.cycle(range(len(self.replicas)))
        self.client: httpx.AsyncClient | None = None
        self.served: list[tuple[str, str, int]] = []
        """(method, path, index of the replica that answered), in order."""

    def replicas_for(self, method: str, path_suffix: str) -> list[int]:
        """Which replica answered each ``method`` request whose path ends with ``path_suffix``."""
        return [i for m, p, i in self.served if m == method and p.endswith(path_suffix)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        index = next(self._next)
        self.served.append((scope["method"], scope["path"], index))
        query = scope.get("query_string", b"")
        url = (
            self.replicas[index]
            + scope["raw_path"].decode()
            + ("?" + query.decode() if query else "")
        )
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        assert self.client is not None
        request = self.client.build_request(
            scope["method"], url, headers=headers, content=bytes(body)
        )
        response = await self.client.send(request, stream=True)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(timeout=None)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


@contextmanager
def round_robin_front(replicas: Sequence[str]) -> Iterator[str]:
    """The front's URL while it runs."""
    with Front(replicas) as front:
        yield front.url


class Front:
    """The balancer in a thread of this process, on a free port."""

    def __init__(self, replicas: Sequence[str]) -> None:
        self.balancer = RoundRobin(replicas)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.balancer, log_level="warning", lifespan="on", server_header=False)
        )
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock]))
        )

    @property
    def served(self) -> list[tuple[str, str, int]]:
        return self.balancer.served

    def replicas_for(self, method: str, path_suffix: str) -> list[int]:
        return self.balancer.replicas_for(method, path_suffix)

    def __enter__(self) -> Front:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the front did not start")
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
