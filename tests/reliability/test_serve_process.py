"""`ray2-mock serve` as users run it: a real process, TLS listener and CONNECT proxy included."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest
import uvicorn
from starlette.responses import PlainTextResponse

from mockserver.serving.server import Emulator
from tests.reliability.serveproc import start_serve
from tests.support import make_config


def test_serve_with_tls_and_proxy_starts_answers_and_stops(tmp_path: Path) -> None:
    """`serve` runs on uvloop; the proxy used to patch Server.close, which uvloop's Server
    does not allow, so `serve` with TLS on crashed at start-up."""
    served = start_serve(tmp_path / "state", "--store", "sqlite", "--timing", "instant")
    try:
        assert served.info.tls_port and served.info.proxy_port
        with socket.create_connection(("127.0.0.1", served.info.proxy_port), timeout=10) as sock:
            sock.sendall(b"CONNECT queue.fal.run:443 HTTP/1.1\r\nHost: queue.fal.run:443\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        assert served.stop() == 0, served.log_text()


async def test_a_stop_that_arrives_during_start_up_is_not_lost(tmp_path: Path) -> None:
    """SIGTERM between installing the handler and binding used to be dropped (stop() only told
    servers that already existed), so `serve --workers` could hang on shutdown."""
    emulator = Emulator(make_config(tmp_path), log_level="warning", access_log=False)
    emulator.stop()
    await asyncio.wait_for(emulator.serve(), 30)


async def test_lifecycle_lines_go_for_the_emulators_listeners_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's plain and TLS listeners each logged uvicorn's start/stop lines; they are
    dropped for them (the banner says what runs where), and only for them: a user's own
    uvicorn server in the same process still says where it runs."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    seen: list[str] = []
    handlers = uvicorn_log.callHandlers  # what passed the filters (uvicorn resets handlers)

    def call_handlers(record: logging.LogRecord) -> None:
        seen.append(record.getMessage())
        handlers(record)

    monkeypatch.setattr(uvicorn_log, "callHandlers", call_handlers)
    emulator = Emulator(make_config(tmp_path, tls_port=None), log_level="info")
    serving = asyncio.create_task(emulator.serve())
    await asyncio.wait_for(emulator.ready.wait(), 30)
    assert emulator.info is not None and emulator.info.tls_port
    theirs = uvicorn.Server(uvicorn.Config(PlainTextResponse("theirs"), port=0))
    their_task = asyncio.create_task(theirs.serve())

    async def started() -> None:
        while not theirs.started:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(started(), 30)
    their_port = theirs.servers[0].sockets[0].getsockname()[1]
    theirs.should_exit = True
    await their_task
    emulator.stop()
    await asyncio.wait_for(serving, 30)
    running = [line for line in seen if line.startswith("Uvicorn running on")]
    assert running == [f"Uvicorn running on http://127.0.0.1:{their_port} (Press CTRL+C to quit)"]
    assert seen.count("Shutting down") == 1  # theirs
