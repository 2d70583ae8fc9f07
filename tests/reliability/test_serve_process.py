"""`ray2-mock serve` as users run it: a real process, TLS listener and CONNECT proxy included."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from mockserver.serving.server import Emulator
from tests.conftest import make_config
from tests.reliability.serveproc import start_serve


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
