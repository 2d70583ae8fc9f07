"""Run an emulator in a background thread (pytest fixture, contract suite, tests).

The thread owns its own event loop; ``start`` returns once every listener is bound, and
``stop`` joins the thread so no port or thread outlives its user.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from mockserver.config import Config
from mockserver.gateway import Gateway
from mockserver.services import Services
from mockserver.serving.server import Emulator, ServerInfo

T = TypeVar("T")


class BackgroundEmulator:
    """One emulator on free loopback ports, served from a thread of its own.

    Use it as a context manager (``with BackgroundEmulator(config) as emulator:``) where the
    pytest fixture does not fit: a script, another test runner, a notebook. ``url`` is the plain
    HTTP base URL (queue at the root, sync run under ``/run``).
    """

    def __init__(self, config: Config, app: Gateway | None = None) -> None:
        self.config = config
        self._emulator = Emulator(config, app, log_level="warning", access_log=False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def app(self) -> Gateway:
        return self._emulator.app

    @property
    def services(self) -> Services:
        """The running emulator's parts (store, clock, queue, ...); call into them with
        ``call`` (they belong to the server's event loop)."""
        return self._emulator.app.state.services  # type: ignore[no-any-return]

    @property
    def info(self) -> ServerInfo:
        assert self._emulator.info is not None, "not started"
        return self._emulator.info

    @property
    def url(self) -> str:
        return self.info.url

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the emulator's loop (its state is not thread-safe)."""
        assert self._loop is not None

        async def invoke() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=10)

    def schedule(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the emulator's loop; its future, for this thread to wait on."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def start(self, timeout: float = 30.0) -> BackgroundEmulator:
        def run() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                serving = asyncio.create_task(self._emulator.serve())
                ready = asyncio.create_task(self._emulator.ready.wait())
                await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
                self._started.set()
                await serving

            try:
                asyncio.run(main())
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._started.set()

        self._thread = threading.Thread(target=run, name="ray2-mock", daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        if self._error is not None or self._emulator.info is None:
            self.stop()
            raise RuntimeError(f"emulator failed to start: {self._error!r}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._emulator.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("emulator thread did not stop")
            self._thread = None

    def __enter__(self) -> BackgroundEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
