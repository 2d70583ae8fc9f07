"""Runs the app on real sockets: plain HTTP, HTTPS for fal's host names, and the CONNECT proxy.

One event loop serves all three so they share one app (one queue, one store). uvicorn's
own signal capture is per server, so it is switched off here and one handler stops all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette

from mockserver.app import create_app
from mockserver.config import Config
from mockserver.connect_proxy import start_connect_proxy
from mockserver.dashboard import UI_PATH

if TYPE_CHECKING:
    from mockserver.tls import TlsFiles

log = logging.getLogger(__name__)
SERVER_INFO_FILE = "server.json"


class _QuietSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bound_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@dataclass(frozen=True)
class ServerInfo:
    """Where a running emulator listens; written to the state dir for ``ray2-mock env``."""

    host: str
    port: int
    tls_port: int | None
    proxy_port: int | None
    ca_cert: str | None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def read(cls, state_dir: Path) -> ServerInfo | None:
        try:
            return cls(**json.loads((state_dir / SERVER_INFO_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None


class Emulator:
    def __init__(
        self,
        config: Config,
        app: Starlette | None = None,
        *,
        log_level: str = "info",
        access_log: bool = True,
    ) -> None:
        self.config = config
        self.app = app or create_app(config)
        self.log_level = log_level
        self.access_log = access_log
        self.info: ServerInfo | None = None
        self.ready = asyncio.Event()
        self._servers: list[uvicorn.Server] = []
        self._proxy: asyncio.base_events.Server | None = None

    def _uvicorn(self, port: int, *, lifespan: str, **ssl: Any) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            host=self.config.host,
            port=port,
            lifespan=lifespan,
            log_level=self.log_level,
            access_log=self.access_log,
            timeout_graceful_shutdown=2,
            **ssl,
        )
        return _QuietSignals(config)

    async def _start(self, server: uvicorn.Server) -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task  # surfaces the bind or startup error
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.005)
        self._servers.append(server)
        return task

    async def serve(self) -> None:
        """Start everything, publish where it listens, and run until ``stop``."""
        cfg = self.config
        tasks = [await self._start(self._uvicorn(cfg.port, lifespan="on"))]
        port = _bound_port(self._servers[0])
        tls_port = proxy_port = None
        tls: TlsFiles | None = None
        if cfg.tls_port != 0:
            # Imported here: cryptography is a fifth of the import time of an emulator without
            # TLS, which is what the pytest fixture starts.
            from mockserver.tls import FAL_HOSTS, ensure_tls_files

            tls = ensure_tls_files(cfg.state_dir)
            wanted = cfg.tls_port if cfg.tls_port is not None else (port + 1 if cfg.port else 0)
            tasks.append(
                await self._start(
                    self._uvicorn(
                        wanted,
                        lifespan="off",
                        ssl_certfile=str(tls.server_cert),
                        ssl_keyfile=str(tls.server_key),
                    )
                )
            )
            tls_port = _bound_port(self._servers[1])
            wanted_proxy = (
                cfg.proxy_port if cfg.proxy_port is not None else (port + 2 if cfg.port else 0)
            )
            self._proxy = await start_connect_proxy(
                cfg.host,
                wanted_proxy,
                upstream_host=cfg.host,
                upstream_port=tls_port,
                allowed_hosts=FAL_HOSTS,
            )
            proxy_port = int(self._proxy.sockets[0].getsockname()[1])
        self.info = ServerInfo(
            cfg.host, port, tls_port, proxy_port, str(tls.ca_cert.resolve()) if tls else None
        )
        (cfg.state_dir / SERVER_INFO_FILE).write_text(self.info.to_json())
        self.ready.set()
        try:
            await asyncio.gather(*tasks)
        finally:
            if self._proxy is not None:
                self._proxy.close()
                await self._proxy.wait_closed()

    def stop(self) -> None:
        # The TLS listener shares the app, so it goes first; the lifespan owner last.
        for server in reversed(self._servers):
            server.should_exit = True


def run_forever(config: Config, *, banner: bool = True) -> None:
    """Blocking entry point for ``ray2-mock serve``: Ctrl-C stops every listener cleanly."""

    async def main() -> None:
        emulator = Emulator(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, emulator.stop)
        serving = asyncio.create_task(emulator.serve())
        ready = asyncio.create_task(emulator.ready.wait())
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
        if banner and emulator.info is not None:
            print(startup_banner(emulator.info, config), flush=True)
        await serving

    asyncio.run(main())


def startup_banner(info: ServerInfo, config: Config) -> str:
    lines = [
        f"ray2-mock listening on {info.url}  (timing={config.timing}, store={config.store},"
        f" state={config.state_dir})",
        f"  queue: {info.url}/fal-ai/luma-dream-machine/ray-2    sync run: {info.url}/run/...",
        f"  dashboard: {info.url}{UI_PATH}",
    ]
    if info.tls_port:
        lines.append(
            f"  TLS for fal hosts: https://127.0.0.1:{info.tls_port}   CONNECT proxy: "
            f"http://{info.host}:{info.proxy_port}   CA: {info.ca_cert}"
        )
    lines.append('  route the unmodified fal_client here:  eval "$(ray2-mock env)"')
    return "\n".join(lines)
