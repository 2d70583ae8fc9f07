"""A minimal HTTP/1.1 client on raw asyncio sockets, one connection per request.

httpx's connection pool does per-request work proportional to the pool size, so 1,000 sockets
at once cost the *client* seconds; this does the same on the wire in a fraction of that, leaving
the test's time to the server under test.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def request(
    url: str,
    method: str = "GET",
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> RawResponse:
    parts = urlsplit(url)
    body = b"" if json_body is None else json.dumps(json_body).encode()
    lines = [
        f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        f"Content-Length: {len(body)}",
        *(["Content-Type: application/json"] if json_body is not None else []),
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def exchange() -> RawResponse:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(head + body)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            found: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                found[name.strip().lower()] = value.strip()
            length = found.get("content-length")
            data = await (reader.readexactly(int(length)) if length else reader.read())
            return RawResponse(status, found, data)
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)
