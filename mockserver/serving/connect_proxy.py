"""HTTP CONNECT proxy that tunnels fal's host names, and nothing else, to the emulator's TLS port.

With ``HTTPS_PROXY`` pointing here, an unmodified client opens ``CONNECT queue.fal.run:443`` and
then speaks TLS through the tunnel; the emulator's certificate (see ``tls.py``) covers that name,
so the client never notices. The proxy does not terminate TLS and never connects anywhere but the
one upstream it was given: every other target is refused, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import Collection

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT = 10.0  # seconds to send the whole request head; stops idle connections piling up
UPSTREAM_CONNECT_TIMEOUT = 5.0
PIPE_CHUNK = 64 * 1024
LINGER_SECONDS = 1.0  # after an error answer, how long to wait for the client to hang up
TUNNEL_PORT = 443
_SERVER_HEADER = "ray2-mock-connect-proxy"
# RFC 9112 lets recipients accept a bare LF as a line end; hand-typed requests (nc) often use it.
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(r"\r?\n")


class _Reject(Exception):
    """An HTTP error answer to send before closing the connection."""

    def __init__(self, status: int, reason: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.extra = status, reason, detail, extra


async def start_connect_proxy(
    listen_host: str,
    listen_port: int,
    *,
    upstream_host: str,
    upstream_port: int,
    allowed_hosts: Collection[str],
    head_timeout: float = HEAD_TIMEOUT,
    connect_timeout: float = UPSTREAM_CONNECT_TIMEOUT,
    sock: socket.socket | None = None,
) -> ProxyServer:
    """Listen for CONNECT requests and tunnel allowed ``host:443`` targets to the upstream.

    ``close()`` on the returned server also cancels open tunnels (Python 3.11 has no
    ``close_clients()``), and ``wait_closed()`` waits for them, so shutdown leaks no tasks.
    """
    allowed = frozenset(_normalise_host(h) for h in allowed_hosts)
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await _serve_connection(
                reader,
                writer,
                upstream=(upstream_host, upstream_port),
                allowed=allowed,
                head_timeout=head_timeout,
                connect_timeout=connect_timeout,
            )
        except Exception:  # a bug here must show up in the log, not as a silent dead connection
            logger.exception("CONNECT proxy: connection handler failed")
        finally:
            handlers.discard(task)

    if sock is not None:  # bound already (serve --workers: its port known before it starts)
        server = await asyncio.start_server(handle, sock=sock)
    else:
        server = await asyncio.start_server(handle, listen_host, listen_port)
    return ProxyServer(server, handlers)


class ProxyServer:
    """The listening server plus its open tunnels: ``close()`` ends both.

    A wrapper, not patched methods: uvloop's ``Server`` (what ``serve`` runs on) has read-only
    attributes."""

    def __init__(self, server: asyncio.AbstractServer, handlers: set[asyncio.Task[None]]) -> None:
        self._server = server
        self._handlers = handlers

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._server.close()
        for task in list(self._handlers):
            task.cancel()

    async def wait_closed(self) -> None:
        await self._server.wait_closed()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)


async def _serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    upstream: tuple[str, int],
    allowed: frozenset[str],
    head_timeout: float,
    connect_timeout: float,
) -> None:
    """One client connection: read the head, then either refuse it or open and run the tunnel."""
    peer = writer.get_extra_info("peername")
    up_writer: asyncio.StreamWriter | None = None
    try:
        try:
            received = await asyncio.wait_for(_read_head(reader), head_timeout)
            if received is None:
                return  # connected and closed without a word (port probes, health checks)
            head, leftover = received
            host, port = _parse_connect(head)
            if host not in allowed or port != TUNNEL_PORT:
                allowed_list = sorted(allowed)
                raise _Reject(
                    403,
                    "Forbidden",
                    f"ray2-mock's proxy only routes fal hosts (port {TUNNEL_PORT}) to the local "
                    f"emulator; refusing CONNECT {host}:{port}. Allowed: "
                    + ", ".join(f"{h}:{TUNNEL_PORT}" for h in allowed_list)
                    + ". Unset HTTPS_PROXY for calls that must reach other hosts.",
                    allowed_hosts=allowed_list,
                )
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*upstream), connect_timeout
                )
            except (OSError, TimeoutError) as exc:
                raise _Reject(
                    502,
                    "Bad Gateway",
                    f"the emulator's TLS listener at {upstream[0]}:{upstream[1]} is not reachable "
                    f"({type(exc).__name__}: {exc}); is ray2-mock running?",
                ) from exc
        except TimeoutError:
            timeout = _Reject(408, "Request Timeout", "request head not received in time")
            await _send_error(reader, writer, timeout)
            return
        except _Reject as rej:
            logger.info("CONNECT proxy: %s %s from %s", rej.status, rej.detail, peer)
            await _send_error(reader, writer, rej)
            return
        except ConnectionError:
            return  # the client went away before finishing its request
        logger.debug("CONNECT proxy: tunnel %s:%s for %s", host, port, peer)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if leftover:  # bytes the client sent right behind the head (e.g. an eager ClientHello)
            up_writer.write(leftover)
        await _pipe_both_ways(reader, writer, up_reader, up_writer)
    finally:
        for w in (writer, up_writer):
            if w is not None:
                w.close()
        for w in (writer, up_writer):
            if w is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(w.wait_closed(), 1.0)


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    """Read up to the blank line; return (head text, bytes after it), or None on a silent close.

    The request line is checked as soon as it is complete, so garbage (or TLS aimed at this
    plain-HTTP port) gets its 400 at once instead of after the head timeout.
    """
    buf = bytearray()
    line_checked = False
    while True:
        if buf[:1] == b"\x16":
            raise _Reject(
                400,
                "Bad Request",
                "got a TLS handshake: this proxy speaks plain HTTP, use HTTPS_PROXY=http://...",
            )
        if not line_checked and b"\n" in buf:
            _parse_request_line(_decode(bytes(buf.split(b"\n", 1)[0])).rstrip("\r"))
            line_checked = True
        end = _HEAD_END.search(buf)
        if end and end.start() <= MAX_HEAD_BYTES:
            return _decode(bytes(buf[: end.start()])), bytes(buf[end.end() :])
        if end or len(buf) > MAX_HEAD_BYTES:
            raise _Reject(
                431,
                "Request Header Fields Too Large",
                f"request head exceeds {MAX_HEAD_BYTES} bytes",
            )
        chunk = await reader.read(4096)
        if not chunk:
            if buf:
                raise _Reject(400, "Bad Request", "connection closed inside the request head")
            return None
        buf += chunk


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _Reject(400, "Bad Request", "request head is not ASCII HTTP") from None


def _parse_request_line(line: str) -> tuple[str, str]:
    """Split 'METHOD target HTTP/1.x' into method and target, or reject it as malformed (400)."""
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise _Reject(
            400, "Bad Request", "malformed request line; expected 'CONNECT host:443 HTTP/1.1'"
        )
    return parts[0], parts[1]


def _parse_connect(head: str) -> tuple[str, int]:
    """Validate the head and return the CONNECT target; 400 for malformed, 405 for other methods."""
    request_line, *header_lines = _LINE_END.split(head)
    method, target = _parse_request_line(request_line)
    for line in header_lines:
        name, sep, _ = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Reject(400, "Bad Request", f"malformed header line {line[:80]!r}")
    if method != "CONNECT":
        raise _Reject(
            405,
            "Method Not Allowed",
            f"ray2-mock's proxy only tunnels HTTPS via CONNECT, got {method}. Send plain-HTTP "
            "requests straight to the emulator's HTTP port instead of through this proxy.",
        )
    host, sep, port_text = target.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _Reject(400, "Bad Request", f"CONNECT target must be host:port, got {target[:80]!r}")
    return _normalise_host(host), int(port_text)


def _normalise_host(host: str) -> str:
    """Compare names the way DNS does: case-insensitive, trailing dot ignored, IPv6 unbracketed."""
    return host.strip("[]").rstrip(".").lower()


async def _send_error(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rej: _Reject
) -> None:
    """Write a small JSON error response, then close gracefully so the client gets to read it."""
    body = json.dumps({"error": rej.reason, "detail": rej.detail, **rej.extra}).encode()
    headers = [
        f"HTTP/1.1 {rej.status} {rej.reason}",
        f"Server: {_SERVER_HEADER}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if rej.status == 405:
        headers.append("Allow: CONNECT")
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
    # Lingering close: closing with unread input (an oversized head, say) makes the kernel send a
    # RST, which can destroy the response before the client reads it. So send FIN first and
    # discard input briefly until the client hangs up.
    with contextlib.suppress(ConnectionError, TimeoutError):
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_SECONDS):
            while await reader.read(PIPE_CHUNK):
                pass


async def _pipe_both_ways(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    up_r: asyncio.StreamReader,
    up_w: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until both sides have closed, or either fails; then stop the other."""
    pipes = {
        asyncio.create_task(_pipe(client_r, up_w)),
        asyncio.create_task(_pipe(up_r, client_w)),
    }
    try:
        await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Forward one direction; on EOF pass the half-close on, as a plain TCP tunnel would."""
    while data := await src.read(PIPE_CHUNK):
        dst.write(data)
        await dst.drain()
    if dst.can_write_eof():
        dst.write_eof()
