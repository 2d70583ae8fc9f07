"""Raw-socket abuse: malformed, truncated, oversized and stalled requests.

Every complete request gets an answer below 500 within seconds (or the connection is closed on
it), nothing the app runs raises (no ERROR log from the app or uvicorn), stalled clients do not
slow anyone else down, and the server answers health afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.reliability.budget import scaled
from tests.support import server_errors

T2V = b"/fal-ai/luma-dream-machine/ray-2"
STATUS = b"/fal-ai/luma-dream-machine/requests/some-id/status"
AUTH = b"Authorization: Key k:s\r\n"
JSON = b"Content-Type: application/json\r\n"


def _post(body: bytes, *headers: bytes, length: int | None = None) -> bytes:
    declared = len(body) if length is None else length
    return (
        b"POST " + T2V + b" HTTP/1.1\r\nHost: x\r\n" + AUTH + b"".join(headers)
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % declared + body
    )  # fmt: skip


def _get(path: bytes, *headers: bytes) -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(headers)
        + b"Connection: close\r\n\r\n"
    )


CHUNK = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
# (name, bytes sent, statuses that are a right answer); None: closing the connection is right too
CASES: list[tuple[str, bytes, set[int] | None]] = [
    # FastAPI's rules: undecodable bodies are its plain 400, JSON that does not parse a 422;
    # anything else is accepted by the queue (the app rejects it when the request runs).
    ("invalid UTF-8 in body", _post(b'{"prompt":"\xff\xfe"}', JSON), {400}),
    ("lone surrogate escape", _post(b'{"prompt":"\\udc00"}', JSON), {200}),
    ("nested 10k deep", _post(b"[" * 10_000 + b"]" * 10_000, JSON), {400}),
    ("prompt nested 900 deep", _post(b'{"prompt":' + b"[" * 900 + b"]" * 900 + b"}", JSON), {200}),
    (
        "prompt nested 900 deep, sync run",
        _post(b'{"prompt":' + b"[" * 900 + b"]" * 900 + b"}", JSON).replace(T2V, b"/run" + T2V),
        {422},
    ),
    (
        "extra field nested 900 deep",
        _post(b'{"prompt":"p","x":' + b"[" * 900 + b"]" * 900 + b"}", JSON),
        {200},
    ),
    ("number with 10k digits", _post(b'{"prompt":"p","loop":' + b"9" * 10_000 + b"}", JSON), {400}),
    ("not JSON", _post(b"\x00\x01garbage", JSON), {400}),  # json.loads cannot even decode it
    ("empty body", _post(b"", JSON), {200}),
    ("invalid UTF-8 in path", _get(b"/fal-ai/\xff\xfe/requests/x/status", AUTH), {400, 404}),
    ("invalid UTF-8 in auth", _get(STATUS, b"Authorization: Key \xff\xfe\r\n"), {401, 404}),
    ("invalid UTF-8 in content type", _post(b"{}", b"Content-Type: \xff\r\n"), {200}),
    ("NUL in a header", _get(b"/_mock/health", b"X-A: a\x00b\r\n"), {400}),
    (
        "100 KB header",
        _get(b"/_mock/health", b"X-Big: " + b"a" * 100_000 + b"\r\n"),
        {200, 400, 431},
    ),
    (
        "2 MB header",
        _get(b"/_mock/health", b"X-Big: " + b"a" * 2_000_000 + b"\r\n"),
        {200, 400, 431},
    ),
    (
        "20k headers",
        _get(b"/_mock/health", *(b"X-%d: y\r\n" % i for i in range(20_000))),
        {200, 400, 431},
    ),
    ("200 KB path", _get(b"/" + b"a" * 200_000), {400, 404, 414}),
    ("not HTTP", b"\x00\x01\x02GARBAGE\r\n\r\n", {400}),
    (
        "bad chunk size",
        b"POST "
        + T2V
        + b" HTTP/1.1\r\nHost: x\r\n"
        + AUTH
        + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
        {400},
    ),  # fmt: skip
    (
        "Content-Length and chunked",
        b"POST "
        + T2V
        + b" HTTP/1.1\r\nHost: x\r\n"
        + AUTH
        + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        {400},
    ),  # fmt: skip
    ("negative Content-Length", _post(b"", length=-5), {400}),
    (
        "chunked body over the cap",
        b"POST "
        + T2V
        + b" HTTP/1.1\r\nHost: x\r\n"
        + AUTH
        + JSON
        + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + CHUNK * 11
        + b"0\r\n\r\n",
        {413},
    ),  # fmt: skip
    ("declared body over the cap", _post(b"{}", JSON, length=50_000_000), {413}),
    ("HTTP/1.0 without Host", b"GET /_mock/health HTTP/1.0\r\n\r\n", {200}),
    ("unknown method", b"BREW /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n", {400, 405}),
]


def _exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int | None, float]:
    """(status or None if the server closed without one, seconds until the answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close first (413)
            sock.sendall(data)
        received = b""
        try:
            while b"\r\n" not in received and (chunk := sock.recv(65536)):
                received += chunk
        except ConnectionResetError:
            pass
    took = time.monotonic() - started
    return (int(received.split()[1]) if received.startswith(b"HTTP/") else None), took


@pytest.fixture
def app_errors() -> Iterator[list[logging.LogRecord]]:
    """The server's ERROR records, uvicorn's "Exception in ASGI application" included."""
    with server_errors() as records:
        yield records


def test_the_error_capture_sees_what_caplog_cannot() -> None:
    """uvicorn's loggers do not propagate to the root logger, where caplog listens."""
    with server_errors() as records:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")
        logging.getLogger("mockserver.app").error("unhandled error on GET /")
    assert [r.getMessage() for r in records] == [
        "Exception in ASGI application",
        "unhandled error on GET /",
    ]


@pytest.mark.parametrize(("name", "data", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_malformed_requests_get_a_client_error(
    emulator: BackgroundEmulator,
    app_errors: list[logging.LogRecord],
    name: str,
    data: bytes,
    allowed: set[int] | None,
) -> None:
    status, took = _exchange(emulator.info.port, data)
    assert took < 10
    assert status in (allowed or set()) or (allowed is None and status is None), status
    assert [r.getMessage() for r in app_errors] == []
    assert httpx.get(f"{emulator.url}/_mock/health", timeout=5).status_code == 200


@pytest.mark.parametrize("cut", [1, 20, 60])
def test_truncated_body_then_hang_up(
    emulator: BackgroundEmulator, app_errors: list[logging.LogRecord], cut: int
) -> None:
    """The client promises 100 bytes, sends `cut`, and goes away: no error, server fine."""
    body = (b'{"prompt": "' + b"x" * 200 + b'"}')[:cut]
    with socket.create_connection(("127.0.0.1", emulator.info.port), timeout=5) as sock:
        sock.sendall(_post(body, JSON, length=100))
        time.sleep(0.2)
    time.sleep(0.2)
    assert [r.getMessage() for r in app_errors] == []
    assert httpx.get(f"{emulator.url}/_mock/health", timeout=5).status_code == 200


def test_slowloris_stalls_do_not_slow_anyone_else(
    emulator: BackgroundEmulator, app_errors: list[logging.LogRecord]
) -> None:
    """Many connections trickle headers or bodies a byte at a time; others are served at once."""
    port = emulator.info.port
    stallers = scaled(100, 500)
    trickle_s = scaled(2, 20)
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(stallers)]
    partial = [
        b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
        if i % 2
        else _post(b"{", JSON, length=99)
        for i in range(stallers)
    ]

    def trickle() -> None:
        for sock, head in zip(sockets, partial, strict=True):
            sock.sendall(head)
        while not stop.wait(0.1):
            for sock in sockets:
                sock.sendall(b"a")

    thread = threading.Thread(target=trickle)
    thread.start()
    latencies = []
    try:
        deadline = time.monotonic() + trickle_s
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert client.get(f"{emulator.url}/_mock/health").status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
        for sock in sockets:
            sock.close()
    assert latencies and max(latencies) < 1.0, max(latencies)
    assert [r.getMessage() for r in app_errors] == []
    assert httpx.get(f"{emulator.url}/_mock/health", timeout=5).status_code == 200
