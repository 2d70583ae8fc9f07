"""CONNECT proxy over real sockets: fal hosts reach the TLS upstream, everything else is refused."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mockserver.serving import connect_proxy
from mockserver.serving.connect_proxy import start_connect_proxy
from mockserver.serving.tls import FAL_HOSTS, TlsFiles, ensure_tls_files

T = TypeVar("T")


async def _echo_request(request: Request) -> JSONResponse:
    """Stand-in for the emulator: reports what arrived through the tunnel."""
    return JSONResponse(
        {
            "ok": True,
            "host": request.headers.get("host"),
            "method": request.method,
            "path": request.url.path,
            "authorization": request.headers.get("authorization"),
        }
    )


_APP = Starlette(
    routes=[
        Route(
            "/{path:path}", _echo_request, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
        )
    ]
)


class _LoopThread:
    """An event loop in a thread, so sync clients (httpx, subprocesses) can use the proxy."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


def _proxy_tasks() -> set[asyncio.Task[Any]]:
    """Tasks running code from connect_proxy.py: must be none once a proxy is closed."""
    return {
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "cr_code", None) is not None
        and t.get_coro().cr_code.co_filename == connect_proxy.__file__  # type: ignore[union-attr]
    }


async def _start(**kwargs: Any) -> tuple[asyncio.base_events.Server, int]:
    kwargs.setdefault("allowed_hosts", FAL_HOSTS)
    server = await start_connect_proxy("127.0.0.1", 0, **kwargs)
    return server, server.sockets[0].getsockname()[1]


async def _stop(server: asyncio.base_events.Server) -> set[asyncio.Task[Any]]:
    server.close()
    await server.wait_closed()
    return _proxy_tasks()


def _free_port() -> int:
    """A port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw(port: int, data: bytes, *, wait: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Send bytes, read until the proxy closes, and split the HTTP response."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls_files(tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def upstream_port(tls_files: TlsFiles) -> Iterator[int]:
    """A real uvicorn TLS server with the emulator's certificate, like the emulator's TLS port."""
    config = uvicorn.Config(
        _APP,
        host="127.0.0.1",
        port=0,
        ssl_certfile=str(tls_files.server_cert),
        ssl_keyfile=str(tls_files.server_key),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[_LoopThread]:
    lt = _LoopThread()
    yield lt
    lt.stop()


@pytest.fixture(scope="module")
def proxy_port(loop_thread: _LoopThread, upstream_port: int) -> Iterator[int]:
    server, port = loop_thread.run(_start(upstream_host="127.0.0.1", upstream_port=upstream_port))
    yield port
    assert loop_thread.run(_stop(server)) == set(), "proxy tasks outlived close()"


def _client(proxy_port: int, tls_files: TlsFiles) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(tls_files.ca_cert))
    return httpx.Client(proxy=f"http://127.0.0.1:{proxy_port}", verify=ctx, trust_env=False)


def test_tunnels_every_fal_host_with_its_host_header(proxy_port: int, tls_files: TlsFiles) -> None:
    with _client(proxy_port, tls_files) as client:
        r = client.get("https://queue.fal.run/x")
        assert r.status_code == 200
        assert r.json()["host"] == "queue.fal.run" and r.json()["path"] == "/x"
        for host in FAL_HOSTS:
            assert client.post(f"https://{host}/p", json={}).json()["host"] == host


def test_refuses_other_hosts_through_httpx(proxy_port: int, tls_files: TlsFiles) -> None:
    with _client(proxy_port, tls_files) as client, pytest.raises(httpx.ProxyError, match="403"):
        client.get("https://example.com/")


@pytest.mark.parametrize(
    "target", ["example.com:443", "fal.run:80", "fal.run.evil.com:443", "127.0.0.1:443"]
)
def test_forbidden_target_body_names_allowed_hosts(proxy_port: int, target: str) -> None:
    status, headers, body = _raw(
        proxy_port, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    )
    assert status == 403
    assert headers["content-type"] == "application/json"
    data = json.loads(body)
    assert set(data["allowed_hosts"]) == set(FAL_HOSTS)
    assert "only routes fal hosts" in data["detail"] and "queue.fal.run:443" in data["detail"]
    assert target in data["detail"]


def test_allowed_host_matches_case_insensitively(proxy_port: int) -> None:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as s:
        s.sendall(b"CONNECT Queue.FAL.run.:443 HTTP/1.1\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 200 Connection established\r\n\r\n")


def test_non_connect_gets_405(proxy_port: int) -> None:
    status, headers, body = _raw(
        proxy_port, b"GET http://fal.run/ HTTP/1.1\r\nHost: fal.run\r\n\r\n"
    )
    assert status == 405
    assert headers["allow"] == "CONNECT"
    assert "only tunnels HTTPS via CONNECT" in json.loads(body)["detail"]


@pytest.mark.parametrize(
    "data",
    [
        b"hello there\r\n\r\n",
        b"CONNECT fal.run HTTP/1.1\r\n\r\n",  # no port
        b"CONNECT fal.run:443 HTTP/1.1\r\nno colon here\r\n\r\n",
        b"CONNECT fal.run:443 HTTP/1.1\r\nX: \xff\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS ClientHello aimed at the proxy
    ],
)
def test_malformed_requests_get_400(proxy_port: int, data: bytes) -> None:
    assert _raw(proxy_port, data)[0] == 400


def test_oversized_head_gets_431(proxy_port: int) -> None:
    data = b"CONNECT fal.run:443 HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 100_000 + b"\r\n\r\n"
    assert _raw(proxy_port, data)[0] == 431


def test_incomplete_head_times_out_with_408(loop_thread: _LoopThread, upstream_port: int) -> None:
    server, port = loop_thread.run(
        _start(upstream_host="127.0.0.1", upstream_port=upstream_port, head_timeout=0.2)
    )
    try:
        assert _raw(port, b"CONNECT fal.run:443 HTTP/1.1\r\n")[0] == 408
    finally:
        assert loop_thread.run(_stop(server)) == set()


def test_upstream_down_gives_502(loop_thread: _LoopThread, tls_files: TlsFiles) -> None:
    server, port = loop_thread.run(_start(upstream_host="127.0.0.1", upstream_port=_free_port()))
    try:
        status, _, body = _raw(port, b"CONNECT fal.run:443 HTTP/1.1\r\n\r\n")
        assert status == 502 and "not reachable" in json.loads(body)["detail"]
        with _client(port, tls_files) as client, pytest.raises(httpx.ProxyError, match="502"):
            client.get("https://fal.run/")
    finally:
        assert loop_thread.run(_stop(server)) == set()


_FAL_CLIENT_SCRIPT = """
import json
import fal_client
print(json.dumps(fal_client.run("fal-ai/luma-dream-machine/ray-2", arguments={"prompt": "xyz"})))
"""


def test_unmodified_fal_client_reaches_upstream(proxy_port: int, tls_files: TlsFiles) -> None:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("SSL_CERT_DIR", None)
    env.update(
        HTTPS_PROXY=f"http://127.0.0.1:{proxy_port}",
        SSL_CERT_FILE=str(tls_files.ca_cert),
        FAL_KEY="x",
    )
    done = subprocess.run(
        [sys.executable, "-c", _FAL_CLIENT_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "ok": True,
        "host": "fal.run",
        "method": "POST",
        "path": "/fal-ai/luma-dream-machine/ray-2",
        "authorization": "Key x",
    }


# --- tunnel mechanics against a plain TCP echo upstream (no TLS needed: the proxy never looks) ---


async def _echo_upstream() -> tuple[asyncio.base_events.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _open_tunnel(port: int, extra: bytes = b"") -> tuple[asyncio.StreamReader, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"CONNECT v3.fal.media:443 HTTP/1.1\r\nHost: v3.fal.media:443\r\n\r\n" + extra)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head == b"HTTP/1.1 200 Connection established\r\n\r\n"
    return reader, writer


async def test_tunnel_forwards_early_bytes_bulk_data_and_half_close() -> None:
    echo, echo_port = await _echo_upstream()
    proxy, port = await _start(upstream_host="127.0.0.1", upstream_port=echo_port)
    async with echo:
        reader, writer = await _open_tunnel(port, extra=b"early")
        assert await reader.readexactly(5) == b"early"
        payload = os.urandom(2 * 1024 * 1024)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()  # half-close: the echo must still come back in full

        _, received = await asyncio.gather(send(), reader.read(-1))
        assert received == payload  # read(-1) returning means EOF was passed back too
        writer.close()
        await writer.wait_closed()
        assert await _stop(proxy) == set()


async def test_close_ends_open_tunnels_without_leaking_tasks() -> None:
    echo, echo_port = await _echo_upstream()
    proxy, port = await _start(upstream_host="127.0.0.1", upstream_port=echo_port)
    async with echo:
        tunnels = [await _open_tunnel(port) for _ in range(3)]
        for reader, writer in tunnels:
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
        assert _proxy_tasks(), "open tunnels should have live handler tasks"
        assert await asyncio.wait_for(_stop(proxy), 3) == set()
        for reader, writer in tunnels:
            assert await asyncio.wait_for(reader.read(), 3) == b""  # the proxy closed the tunnel
            writer.close()
            await writer.wait_closed()
