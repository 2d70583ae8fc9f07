"""Runs the app on real sockets: plain HTTP, HTTPS for fal's host names, and the CONNECT proxy.

One event loop serves all three so they share one app (one queue, one store). uvicorn's
own signal capture is per server, so it is switched off here and one handler stops all.

``serve --workers N`` (``run_workers``): the parent binds the plain and TLS sockets once and
spawns N processes that accept on them (the kernel spreads connections); the CONNECT proxy
runs in the parent. Workers share state only through the SQLite store: any worker answers
status/result/cancel for any request, but each worker's queue drives the requests *it*
accepted (plus, at start-up, every unfinished one; optimistic versions let only one worker
apply a transition), so timing capacity is per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import gc
import json
import logging
import multiprocessing
import shlex
import shutil
import signal
import socket
import sys
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from mockserver.app import create_app
from mockserver.config import DEFAULT_PORT, Config
from mockserver.control.dashboard import UI_PATH
from mockserver.gateway import Gateway
from mockserver.serving.connect_proxy import ProxyServer, start_connect_proxy
from mockserver.serving.health import SERVER_INFO_FILE

if TYPE_CHECKING:
    from mockserver.serving.tls import TlsFiles

log = logging.getLogger(__name__)


_OUR_LISTENER = contextvars.ContextVar("ray2_mock_listener", default=False)
# uvicorn's lifecycle lines: each listener (plain, TLS, each worker's) would log its own copy.
_LIFECYCLE_LINES = (
    "Started server process",
    "Waiting for application",
    "Application startup complete",
    "Uvicorn running on",
    "Shutting down",
    "Application shutdown complete",
    "Finished server process",
)


class _LifecycleFilter(logging.Filter):
    """Drops uvicorn's start/stop lines of the emulator's own listeners: two listeners logged
    each twice, and the banner says once what runs where. Other uvicorn servers in the same
    process (a user's app next to the pytest fixture) log as usual; errors always pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        lifecycle = isinstance(record.msg, str) and record.msg.startswith(_LIFECYCLE_LINES)
        return not (lifecycle and record.levelno <= logging.INFO and _OUR_LISTENER.get())


_LIFECYCLE_FILTER = _LifecycleFilter()


class _QuietSignals(uvicorn.Server):
    """One of the emulator's listeners: no signal capture of its own, no lifecycle lines."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()  # bound to a loop only when first awaited

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        _OUR_LISTENER.set(True)  # in this server's own task (and the lifespan task it starts)
        await super().serve(sockets)

    async def main_loop(self) -> None:
        """uvicorn's loop (a tick every 0.1 s), woken at once by ``exit_now``: every pytest
        fixture's teardown would otherwise wait out half a tick on average."""
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def exit_now(self) -> None:
        self.should_exit = True
        self._wake.set()


def _bound_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


def run_on_fast_loop(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on uvicorn's own loop choice (uvloop when installed): uvicorn only picks
    it for loops it creates, and ours hosts several servers."""
    factory = uvicorn.Config(app=None).get_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


@dataclass(frozen=True)
class Listeners:
    """Sockets bound once by the parent of ``serve --workers N`` and shared by every worker."""

    plain: socket.socket
    tls: socket.socket | None = None
    proxy_port: int | None = None
    """The CONNECT proxy's port: the parent runs the proxy; workers only report it."""


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
        app: Gateway | None = None,
        *,
        log_level: str = "info",
        access_log: bool = True,
        listeners: Listeners | None = None,
    ) -> None:
        self.config = config
        self.app = app or create_app(config)
        self.log_level = log_level
        self.access_log = access_log
        self.listeners = listeners
        """Set in a worker of ``serve --workers N``: serve these, no proxy, no server.json."""
        self.info: ServerInfo | None = None
        self.ready = asyncio.Event()
        self._servers: list[_QuietSignals] = []
        self._proxy: ProxyServer | None = None
        self._stopping = False

    def _uvicorn(self, port: int, *, lifespan: str, **ssl: Any) -> _QuietSignals:
        uvicorn_log = logging.getLogger("uvicorn.error")
        if _LIFECYCLE_FILTER not in uvicorn_log.filters:
            uvicorn_log.addFilter(_LIFECYCLE_FILTER)
        config = uvicorn.Config(
            self.app,
            host=self.config.host,
            port=port,
            lifespan=lifespan,
            log_level=self.log_level,
            access_log=self.access_log,
            timeout_graceful_shutdown=2,
            ws="none",  # fal's request API has no websocket routes; saves the websockets import
            server_header=False,  # no capture of fal's Server header: send none, not uvicorn's
            **ssl,
        )
        return _QuietSignals(config)

    async def _start(
        self, server: uvicorn.Server, sock: socket.socket | None = None
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve(sockets=None if sock is None else [sock]))
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
        shared = self.listeners
        plain = shared.plain if shared else None
        tasks = [await self._start(self._uvicorn(cfg.port, lifespan="on"), plain)]
        port = _bound_port(self._servers[0])
        tls_port = proxy_port = None
        tls: TlsFiles | None = None
        if cfg.tls_port != 0:
            # Imported here: cryptography is a fifth of the import time of an emulator without
            # TLS, which is what the pytest fixture starts.
            from mockserver.serving.tls import ensure_tls_files

            tls = ensure_tls_files(cfg.state_dir)
            wanted = cfg.tls_port_after(port)
            tasks.append(
                await self._start(
                    self._uvicorn(
                        wanted,
                        lifespan="off",
                        ssl_certfile=str(tls.server_cert),
                        ssl_keyfile=str(tls.server_key),
                    ),
                    shared.tls if shared else None,
                )
            )
            tls_port = _bound_port(self._servers[1])
        if tls is not None and tls_port is not None and shared is None:
            self._proxy, proxy_port = await _start_fal_proxy(cfg, port, tls_port)
        elif shared is not None:
            proxy_port = shared.proxy_port
        self.info = ServerInfo(
            cfg.host, port, tls_port, proxy_port, str(tls.ca_cert.resolve()) if tls else None
        )
        state = getattr(self.app, "state", None)  # None: a wrapped app (the suite's broken mocks)
        if state is not None:
            state.listening = listening_state(self.info)
        if shared is None:  # the parent of the workers publishes where they listen
            (cfg.state_dir / SERVER_INFO_FILE).write_text(self.info.to_json())
        self.ready.set()
        if self._stopping:  # stop() came while starting up: only now does it reach every server
            self.stop()
        try:
            await asyncio.gather(*tasks)
        finally:
            if self._proxy is not None:
                self._proxy.close()
                await self._proxy.wait_closed()

    def stop(self) -> None:
        self._stopping = True
        # The TLS listener shares the app, so it goes first; the lifespan owner last.
        for server in reversed(self._servers):
            server.exit_now()


def _quiet(log_level: str) -> bool:
    return logging.getLevelName(log_level.upper()) not in (logging.DEBUG, logging.INFO, 5)


GC_THRESHOLDS = (10_000, 20, 20)
"""Young collections every 10,000 allocations instead of 700: a request allocates hundreds."""


def settle_garbage_collector() -> None:
    """A ``serve`` process, once started: what start-up built (modules, the app, pydantic's
    models) leaves the collector's view for good (``gc.freeze``), and collections run less
    often. Under load the full collections over it were the submit's slowest answers (p99
    ~127 -> ~84 ms, +8% req/s measured at 32 connections). Never done in the pytest fixture:
    its process is the user's."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def listening_state(info: ServerInfo) -> dict[str, Any]:
    """What ``GET /_mock/server`` and ``GET /_mock/ca.pem`` read (``app.state.listening``)."""
    return {
        "port": info.port,
        "tls_port": info.tls_port,
        "proxy_port": info.proxy_port,
        "ca_cert": info.ca_cert,
    }


def run_forever(
    config: Config,
    *,
    banner: bool = True,
    log_level: str = "info",
    token_generated: bool = False,
) -> None:
    """Blocking entry point for ``ray2-mock serve``: Ctrl-C stops every listener cleanly.

    Above ``info`` uvicorn's access log is off (one line per request costs throughput).
    ``token_generated``: the admin token was made for this run, so the banner shows it, once."""
    _serve_until_signalled(config, log_level, None, banner, token_generated)


def _serve_until_signalled(
    config: Config,
    log_level: str,
    listeners: Listeners | None,
    banner: bool,
    token_generated: bool = False,
) -> None:
    async def main() -> None:
        emulator = Emulator(
            config, log_level=log_level, access_log=not _quiet(log_level), listeners=listeners
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, emulator.stop)
        parent = multiprocessing.parent_process() if listeners is not None else None
        if parent is not None:  # a worker: stop when the parent goes, however it goes
            loop.add_reader(parent.sentinel, emulator.stop)
        serving = asyncio.create_task(emulator.serve())
        ready = asyncio.create_task(emulator.ready.wait())
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
        settle_garbage_collector()
        if banner and emulator.info is not None:
            text = startup_banner(emulator.info, config, token_generated=token_generated)
            print(text, flush=True)
        await serving
        if banner:
            print("ray2-mock stopped", flush=True)

    run_on_fast_loop(main())


def _bind(host: str, port: int, *, inheritable: bool = True) -> socket.socket:
    sock = socket.create_server((host, port), reuse_port=False, backlog=2048)
    sock.set_inheritable(inheritable)
    return sock


def _worker_main(config: Config, listeners: Listeners, log_level: str) -> None:
    """One worker process of ``serve --workers N`` (spawned: a fresh interpreter)."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = dataclasses.replace(config, shared_store=True)  # the other workers write it too
    _serve_until_signalled(config, log_level, listeners, banner=False)


def run_workers(
    config: Config,
    workers: int,
    *,
    banner: bool = True,
    log_level: str = "info",
    token_generated: bool = False,
) -> None:
    """``ray2-mock serve --workers N``: N processes on shared sockets, one SQLite state."""
    from mockserver.serving.tls import ensure_tls_files
    from mockserver.stores import SharedSqliteStore

    if config.store == "memory":
        raise SystemExit(
            "--workers needs --store sqlite or a Redis URL: the workers share state through it"
        )
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if config.redis_url is None:  # the schema and WAL mode once, before the workers race for them
        SharedSqliteStore(config.database_path).close()
    plain = _bind(config.host, config.port)
    port = int(plain.getsockname()[1])
    tls = ensure_tls_files(config.state_dir) if config.tls_port != 0 else None
    tls_sock = proxy_sock = None
    if tls is not None:
        tls_sock = _bind(config.host, config.tls_port_after(port))
        # bound here, so every worker knows its port (GET /_mock/server) before it starts
        proxy_sock = _bind(config.host, config.proxy_port_after(port), inheritable=False)
    proxy_port = int(proxy_sock.getsockname()[1]) if proxy_sock else None
    listeners = Listeners(plain, tls_sock, proxy_port)
    spawn = multiprocessing.get_context("spawn")
    procs = [
        spawn.Process(
            target=_worker_main, args=(config, listeners, log_level), name=f"ray2-mock-{i}"
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    try:
        supervise = _supervise(config, procs, listeners, tls, banner, proxy_sock, token_generated)
        run_on_fast_loop(supervise)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(15)


async def _start_fal_proxy(
    config: Config, port: int, tls_port: int, sock: socket.socket | None = None
) -> tuple[Any, int]:
    """The CONNECT proxy that tunnels fal's hosts (and only those) to the TLS listener."""
    from mockserver.serving.tls import FAL_HOSTS

    proxy = await start_connect_proxy(
        config.host,
        config.proxy_port_after(port),
        upstream_host=config.host,
        upstream_port=tls_port,
        allowed_hosts=FAL_HOSTS,
        sock=sock,
    )
    return proxy, int(proxy.sockets[0].getsockname()[1])


async def _supervise(
    config: Config,
    procs: list[multiprocessing.process.BaseProcess],
    listeners: Listeners,
    tls: TlsFiles | None,
    banner: bool,
    proxy_sock: socket.socket | None,
    token_generated: bool,
) -> None:
    """Run the CONNECT proxy, publish server.json, and stop every worker when one ends."""
    port = int(listeners.plain.getsockname()[1])
    tls_port = int(listeners.tls.getsockname()[1]) if listeners.tls else None
    proxy = proxy_port = None
    if tls is not None and tls_port is not None:
        proxy, proxy_port = await _start_fal_proxy(config, port, tls_port, proxy_sock)
    ca = str(tls.ca_cert.resolve()) if tls else None
    info = ServerInfo(config.host, port, tls_port, proxy_port, ca)
    (config.state_dir / SERVER_INFO_FILE).write_text(info.to_json())
    if banner:
        banner_text = startup_banner(
            info, config, workers=len(procs), token_generated=token_generated
        )
        print(banner_text, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watchers = [loop.run_in_executor(None, proc.join) for proc in procs]
    await asyncio.wait(
        [asyncio.ensure_future(stop.wait()), *watchers], return_when=asyncio.FIRST_COMPLETED
    )
    for proc in procs:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: each worker shuts down gracefully
    _, late = await asyncio.wait(watchers, timeout=15)
    for proc in procs:
        if late and proc.is_alive():
            proc.kill()
    await asyncio.gather(*watchers)
    if proxy is not None:
        proxy.close()
        await proxy.wait_closed()
    if banner:
        print("ray2-mock stopped", flush=True)


def startup_banner(
    info: ServerInfo, config: Config, *, workers: int = 1, token_generated: bool = False
) -> str:
    """What runs where, once, and the command that routes programs here (paste-able as is).

    The admin token appears here only when this run made it (bound beyond loopback without
    one), as Jupyter prints its token: this line is the one place it is ever written."""
    lines = [
        f"ray2-mock listening on {info.url}  (timing={config.timing}, store={config.store_label},"
        f" state={config.state_dir})",
        f"  queue: {info.url}/fal-ai/luma-dream-machine/ray-2    sync run: {info.url}/run/...",
        f"  dashboard: {info.url}{UI_PATH}",
    ]
    if workers > 1:
        lines.append(f"  {workers} worker processes")
    if token_generated and config.admin_token is not None:
        lines.append(
            "  control plane (/_mock, dashboard) closed; admin token made for this run, shown "
            f"only here: {config.admin_token}"
        )
        lines.append(
            "    programs: 'Authorization: Bearer <token>'; a browser: any user name, the token "
            "as the password; set RAY2_MOCK_ADMIN_TOKEN to choose it"
        )
    elif config.admin_token is not None:
        lines.append(
            "  control plane (/_mock, dashboard) closed: it needs the admin token "
            "(--admin-token / RAY2_MOCK_ADMIN_TOKEN)"
        )
    if info.tls_port:
        lines.append(
            f"  TLS for fal hosts: https://127.0.0.1:{info.tls_port}   CONNECT proxy: "
            f"http://{info.host}:{info.proxy_port}   CA: {info.ca_cert}"
        )
        lines.append("  route unmodified programs here (Python, node, curl), in another shell:")
        lines.append(f'    eval "$({env_command(config.state_dir)})"')
    return "\n".join(lines)


def self_command() -> list[str]:
    """How to run this very installation again, from any directory: ``ray2-mock`` when PATH
    finds this script, else the script's absolute path (``make serve`` runs .venv/bin's), else
    ``python -m mockserver.cli`` with this interpreter."""
    script = Path(sys.argv[0])
    if script.stem == "ray2-mock" and script.is_file():
        found = shutil.which("ray2-mock")
        if found is not None and Path(found).resolve() == script.resolve():
            return ["ray2-mock"]
        return [str(script.absolute())]
    return [sys.executable, "-m", "mockserver.cli"]


def env_command(state_dir: Path) -> str:
    """``ray2-mock env`` for this emulator: absolute paths, so it works from any directory."""
    return shlex.join([*self_command(), "env", "--state-dir", str(state_dir.absolute())])


def serve_command(state_dir: Path, info: ServerInfo | None = None) -> str:
    """``ray2-mock serve`` that listens where ``info`` (a stopped run's server.json) said, so the
    exports printed from it become right; the defaults are left out."""
    args = [*self_command(), "serve"]
    if state_dir != Path(".ray2-mock"):
        args += ["--state-dir", str(state_dir)]
    if info is not None:
        if info.host != "127.0.0.1":
            args += ["--host", info.host]
        if info.port != DEFAULT_PORT:
            args += ["--port", str(info.port)]
        if info.tls_port != info.port + 1:
            args += ["--tls-port", str(info.tls_port or 0)]
        if info.proxy_port is not None and info.proxy_port != info.port + 2:
            args += ["--proxy-port", str(info.proxy_port)]
    return shlex.join(args)
