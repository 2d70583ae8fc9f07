"""Client adapters: one way to make any client under test perform one call.

An adapter gets a ``ClientCall`` (endpoint, arguments, where the queue and run APIs are, the
key) and returns a ``ClientOutcome`` (the output it returned, or the error it raised). The
client checks then compare that with the traffic the server saw. Adapters:

- ``HttpxClient``: a reference raw-HTTP client (its knobs also make the deliberately broken
  clients the tests use to prove the checks can fail);
- ``FalClient("sync" | "async")``: the official Python ``fal-client``;
- ``JsClient``: the official ``@fal-ai/client`` under node, via ``contracts/js/runner.mjs``;
- ``CallableClient(fn)``: any Python callable ``fn(call) -> output`` (raise on failure);
- ``CommandClient("cmd ...")``: any program that reads the call as JSON on stdin and prints
  ``{"output": ...}`` or ``{"error": {"status": 422, "detail": [...], "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

RUNNER = Path(__file__).parent / "js" / "runner.mjs"
JS_PACKAGE = "@fal-ai/client"
DEFAULT_NODE_MODULES = Path("tests/js/node_modules")
"""Where ``make test`` installs ``@fal-ai/client`` (git-ignored); override with
``RAY2_FAL_JS_NODE_MODULES`` or ``NODE_PATH``."""
COMMAND_TIMEOUT = 300.0


@dataclass(frozen=True)
class ClientCall:
    """What the client under test is asked to do; also the JSON a command client reads."""

    endpoint: str
    arguments: Any
    queue_url: str
    run_url: str
    key: str
    mode: Literal["queue", "run"] = "queue"


@dataclass
class ClientOutcome:
    output: Any = None
    error: str | None = None
    error_status: int | None = None
    error_detail: Any = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.ok:
            return f"returned {json.dumps(self.output, default=str)[:300]}"
        return f"raised {self.error} (status {self.error_status}, detail {self.error_detail})"


class ClientAdapter(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """Why this client cannot run here (None: it can)."""
        ...

    def call(self, call: ClientCall) -> ClientOutcome: ...


def outcome_from_exception(exc: BaseException) -> ClientOutcome:
    """Best-effort status and detail from whatever a client raised (fal, httpx, custom)."""
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    detail = getattr(exc, "detail", None)
    message = getattr(exc, "message", None)
    if detail is None and isinstance(message, list | dict):
        detail = message
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        status = status or response.status_code
        if detail is None:
            with contextlib.suppress(ValueError):
                body = response.json()
                detail = body.get("detail") if isinstance(body, dict) else None
    return ClientOutcome(
        error=f"{type(exc).__name__}: {exc}"[:500],
        error_status=status if isinstance(status, int) else None,
        error_detail=detail,
    )


def _timed(fn: Callable[[], ClientOutcome]) -> ClientOutcome:
    start = time.monotonic()
    try:
        outcome = fn()
    except Exception as exc:  # the client's own failure is an outcome, not a crash
        outcome = outcome_from_exception(exc)
    outcome.seconds = time.monotonic() - start
    return outcome


# -- reference raw HTTP ------------------------------------------------------------------------


class ClientHTTPError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        super().__init__(f"HTTP {response.status_code}: {response.text[:200]}")


@dataclass
class HttpxClient:
    """A small queue client over httpx, written from fal's documented behaviour.

    ``auth``, ``poll_interval`` and ``ignore_422`` exist so tests can build broken clients.
    """

    name: str = "httpx"
    auth: Callable[[str], str] = lambda key: f"Key {key}"
    poll_interval: float = 0.1
    ignore_422: bool = False
    max_attempts: int = 6
    backoff: float = 0.1
    retry_statuses: frozenset[int] = frozenset({408, 409, 429, 502, 503, 504})

    def unavailable(self) -> str | None:
        return None

    def _send(self, http: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
        """Retries transport errors and retryable statuses with exponential backoff."""
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            try:
                response = http.request(method, url, **options)
            except httpx.TransportError:
                if last:
                    raise
            else:
                if response.status_code not in self.retry_statuses or last:
                    if response.status_code == 422 and self.ignore_422:
                        return response
                    if response.is_error:
                        raise ClientHTTPError(response)
                    return response
            time.sleep(min(self.backoff * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    def call(self, call: ClientCall) -> ClientOutcome:
        def run() -> ClientOutcome:
            headers = {"Authorization": self.auth(call.key)}
            with httpx.Client(headers=headers, timeout=60) as http:
                if call.mode == "run":
                    url = f"{call.run_url}/{call.endpoint}"
                    return ClientOutcome(self._send(http, "POST", url, json=call.arguments).json())
                url = f"{call.queue_url}/{call.endpoint}"
                submitted = self._send(http, "POST", url, json=call.arguments).json()
                if "status_url" not in submitted:  # e.g. a 422 body, when ignoring 422
                    return ClientOutcome(submitted)
                while True:
                    status = self._send(http, "GET", submitted["status_url"], params={"logs": 0})
                    if status.json().get("status") == "COMPLETED":
                        break
                    time.sleep(self.poll_interval)
                return ClientOutcome(self._send(http, "GET", submitted["response_url"]).json())

        return _timed(run)


# -- official Python client ----------------------------------------------------------------------

_FAL_ROUTING = threading.Lock()


@contextlib.contextmanager
def _fal_routed(queue_url: str, run_url: str) -> Iterator[Any]:
    """Point fal_client's URL globals (read at call time) at the target, then restore them."""
    import fal_client.client as fal_module

    with _FAL_ROUTING:
        saved = (fal_module.QUEUE_URL_FORMAT, fal_module.RUN_URL_FORMAT)
        fal_module.QUEUE_URL_FORMAT = queue_url.rstrip("/") + "/"
        fal_module.RUN_URL_FORMAT = run_url.rstrip("/") + "/"
        try:
            yield fal_module
        finally:
            fal_module.QUEUE_URL_FORMAT, fal_module.RUN_URL_FORMAT = saved


@dataclass
class FalClient:
    """The official ``fal-client`` (``SyncClient`` or ``AsyncClient``), unmodified."""

    kind: Literal["sync", "async"] = "sync"
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"fal-client-{self.kind}"

    def unavailable(self) -> str | None:
        try:
            importlib.import_module("fal_client")
        except ImportError:
            return "fal-client is not installed (pip install fal-client)"
        return None

    def call(self, call: ClientCall) -> ClientOutcome:
        def run() -> ClientOutcome:
            with _fal_routed(call.queue_url, call.run_url) as fal_module:
                if self.kind == "sync":
                    client = fal_module.SyncClient(key=call.key)
                    if call.mode == "run":
                        return ClientOutcome(client.run(call.endpoint, arguments=call.arguments))
                    output = client.subscribe(
                        call.endpoint, arguments=call.arguments, with_logs=True
                    )
                    return ClientOutcome(output)
                return ClientOutcome(asyncio.run(self._async(fal_module, call)))

        return _timed(run)

    @staticmethod
    async def _async(fal_module: Any, call: ClientCall) -> Any:
        client = fal_module.AsyncClient(key=call.key)
        if call.mode == "run":
            return await client.run(call.endpoint, arguments=call.arguments)
        return await client.subscribe(call.endpoint, arguments=call.arguments, with_logs=True)


# -- any callable ------------------------------------------------------------------------------


@dataclass
class CallableClient:
    """A user's Python callable: ``fn(call: ClientCall) -> output``; raise on failure.

    A raised exception's ``status_code``/``status`` and ``detail`` (or an httpx ``response``)
    are read, so the 422 check can see what the client surfaced.
    """

    fn: Callable[[ClientCall], Any]
    name: str = "callable"

    def unavailable(self) -> str | None:
        return None

    def call(self, call: ClientCall) -> ClientOutcome:
        return _timed(lambda: ClientOutcome(self.fn(call)))


def load_callable(spec: str) -> CallableClient:
    """``python:package.module:function`` -> a CallableClient (importable from the current
    directory too, as with ``python -m``: a console script's path does not include it)."""
    module_name, _, attribute = spec.removeprefix("python:").partition(":")
    if not attribute:
        raise ValueError(f"expected python:module:function, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return CallableClient(getattr(importlib.import_module(module_name), attribute), name=spec)


# -- any command -------------------------------------------------------------------------------


@dataclass
class CommandClient:
    """Any program: the ``ClientCall`` as JSON on stdin (also ``FAL_KEY``, ``RAY2_QUEUE_URL``,
    ``RAY2_RUN_URL`` in its environment); it prints ``{"output": ...}`` or ``{"error": ...}``."""

    command: list[str] | str
    name: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = COMMAND_TIMEOUT

    def __post_init__(self) -> None:
        if isinstance(self.command, str):
            self.command = shlex.split(self.command)
        self.name = self.name or f"command: {shlex.join(self.command)}"

    def unavailable(self) -> str | None:
        assert isinstance(self.command, list)
        if not self.command or shutil.which(self.command[0]) is None:
            return f"{self.command[0] if self.command else '(empty command)'} not found on PATH"
        return None

    def call(self, call: ClientCall) -> ClientOutcome:
        def run() -> ClientOutcome:
            env = {
                **os.environ,
                "FAL_KEY": call.key,
                "RAY2_QUEUE_URL": call.queue_url,
                "RAY2_RUN_URL": call.run_url,
                **self.env,
            }
            done = subprocess.run(
                self.command,
                input=json.dumps(asdict(call)),
                capture_output=True,
                text=True,
                env=env,
                timeout=self.timeout,
                check=False,
            )
            return self._outcome(done)

        return _timed(run)

    @staticmethod
    def _outcome(done: subprocess.CompletedProcess[str]) -> ClientOutcome:
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        try:
            printed = json.loads(lines[-1]) if lines else None
        except ValueError:
            printed = None
        if not isinstance(printed, dict) or not ({"output", "error"} & printed.keys()):
            last = (done.stderr.strip().splitlines() or ["(empty)"])[-1]
            return ClientOutcome(
                error=f"exit {done.returncode} without a JSON outcome; stderr ends: {last[:300]}"
            )
        if "error" in printed and printed["error"] is not None:
            error = printed["error"] if isinstance(printed["error"], dict) else {}
            return ClientOutcome(
                error=str(error.get("message") or printed["error"]),
                error_status=error.get("status"),
                error_detail=error.get("detail"),
            )
        return ClientOutcome(printed.get("output"))


# -- official JS client --------------------------------------------------------------------------


def find_node_modules(explicit: Path | None = None) -> Path | None:
    """The node_modules folder holding ``@fal-ai/client``: the argument,
    ``RAY2_FAL_JS_NODE_MODULES``, each ``NODE_PATH`` entry, then ``tests/js/node_modules``."""
    candidates = [explicit] if explicit else []
    if os.environ.get("RAY2_FAL_JS_NODE_MODULES"):
        candidates.append(Path(os.environ["RAY2_FAL_JS_NODE_MODULES"]))
    candidates += [Path(p) for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    candidates.append(DEFAULT_NODE_MODULES)
    for folder in candidates:
        if folder is not None and (folder / JS_PACKAGE / "package.json").is_file():
            return folder.resolve()
    return None


class JsClient(CommandClient):
    """The official ``@fal-ai/client`` under node, through the shipped ``runner.mjs``.

    ``streaming=True`` makes ``subscribe`` follow the SSE status stream instead of polling.
    """

    def __init__(self, node_modules: Path | None = None, *, streaming: bool = False) -> None:
        self.streaming = streaming
        self.node_modules = find_node_modules(node_modules)
        env = {"RAY2_JS_MODE": "streaming" if streaming else "polling"}
        if self.node_modules is not None:
            env["NODE_PATH"] = str(self.node_modules)
        name = "fal-ai-client-js" + ("-streaming" if streaming else "")
        super().__init__(["node", str(RUNNER)], name=name, env=env)

    def unavailable(self) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if self.node_modules is None:
            return (
                f"{JS_PACKAGE} is not installed: npm install {JS_PACKAGE}@1.10.1 into "
                f"{DEFAULT_NODE_MODULES.parent} (make test does) or set RAY2_FAL_JS_NODE_MODULES"
            )
        return None


ADAPTERS: dict[str, Callable[[], ClientAdapter]] = {
    "httpx": HttpxClient,
    "fal-sync": lambda: FalClient("sync"),
    "fal-async": lambda: FalClient("async"),
    "js": JsClient,
    "js-streaming": lambda: JsClient(streaming=True),
}


def load_client(spec: str) -> ClientAdapter:
    """``httpx``, ``fal-sync``, ``fal-async``, ``js``, ``js-streaming`` or
    ``python:module:function``; commands come through ``CommandClient`` (``--client-cmd``)."""
    if spec.startswith("python:"):
        return load_callable(spec)
    try:
        return ADAPTERS[spec]()
    except KeyError:
        raise ValueError(
            f"unknown client {spec!r}; use {', '.join(ADAPTERS)} or python:module:function"
        ) from None
