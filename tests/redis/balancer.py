"""A round-robin HTTP load balancer for replica tests: each request (not each connection) goes
to the next replica in turn, with its ``Host`` header kept, so the URLs a replica writes into
its answers point back at the balancer, as behind a real one. ``served`` says which replica
answered what."""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
OWN_HEADERS = {"server", "date"}
"""Headers the balancer's own server writes: not copied from the replica's answer."""


class RoundRobin:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: list[tuple[str, str, int]] = []
        """(method, path without its query, index of the replica that answered), in order."""
        self._turns = itertools.count()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def replicas_for(self, method: str, path_suffix: str) -> list[int]:
        """Which replica answered each ``method`` request whose path ends with ``path_suffix``."""
        return [i for m, p, i in self.served if m == method and p.endswith(path_suffix)]

    def _next(self, method: str, path: str) -> int:
        with self._lock:
            index = next(self._turns) % len(self.backends)
            self.served.append((method, path.split("?", 1)[0], index))
            return index

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        balancer = self

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                index = balancer._next(self.command, self.path)
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
                request = balancer._client.build_request(
                    self.command,
                    balancer.backends[index] + self.path,
                    headers=headers,
                    content=body,
                )
                response = balancer._client.send(request, stream=True)
                try:
                    raw = b"".join(response.iter_raw())
                finally:
                    response.close()
                self.send_response(response.status_code)
                for name, value in response.headers.multi_items():
                    if name.lower() not in HOP_BY_HOP | OWN_HEADERS:
                        self.send_header(name, value)
                if self.command == "HEAD":
                    length_header = response.headers.get("content-length")
                    if length_header is not None:
                        self.send_header("content-length", length_header)
                else:
                    self.send_header("content-length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = forward  # noqa: N815

        return Forward

    def __enter__(self) -> RoundRobin:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._client.close()
