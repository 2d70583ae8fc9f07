"""Where the contract suite points: the in-process emulator, any URL, or live fal.

``open_target("mock" | "https://..." | "live")`` yields a ``Target``: the queue and run
bases, a key, a cost budget and, when the server offers them, a clock to move and the
traffic it saw. A URL is read like the no-proxy routing form: the queue API at the URL's
root and sync run under ``/run`` (``run_base`` overrides that).

Live fal costs money, so every generation is charged to a ``Budget`` in cost units (one unit
is a 540p, 5 s clip; 720p = 2, 1080p = 4, 9 s doubles) and a check that would overspend is
skipped, not run. Without ``FAL_KEY`` the live target is unavailable and says why.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp

from contracts.schemas.endpoints import APP_ID, ENDPOINT_FACTS, billed_units

LIVE_QUEUE_URL = "https://queue.fal.run"
LIVE_RUN_URL = "https://fal.run"
DEFAULT_LIVE_BUDGET = 2
"""Two 540p/5 s clips (about $1 at fal's published price) unless told otherwise."""
MOCK_KEY = "contract-suite:suite-key"
MOCK_SPEED = 5.0
"""The in-process emulator runs its ``fast`` profile this many times faster than real time:
every state is still visible (0.1 s queued, ~0.5 s running) and a check takes about a second."""
MockClock = Literal["scaled", "manual"]


class TargetUnavailable(Exception):
    """The target cannot be used here (e.g. live without FAL_KEY); the message says why."""


class BudgetExhausted(Exception):
    """Running this would spend more cost units than the live budget has left."""


@dataclass
class Budget:
    limit: int | None = None
    """None: unlimited (the emulator and URL targets cost nothing)."""
    spent: int = 0

    def can_spend(self, units: int) -> bool:
        return self.limit is None or self.spent + units <= self.limit

    def spend(self, units: int, what: str = "a generation") -> None:
        if not self.can_spend(units):
            raise BudgetExhausted(
                f"{what} costs {units} unit(s); live budget {self.limit}, spent {self.spent} "
                f"(raise it with --live-budget)"
            )
        self.spent += units


class ScaledClock:
    """Wall time that runs ``speed`` times faster (plus what ``advance`` adds).

    The emulator's timing profile then plays out in 1/speed of real time with every state
    still visible, instead of waiting seconds per request or collapsing states (instant).
    """

    def __init__(self, speed: float = MOCK_SPEED) -> None:
        self.speed = speed
        self._start_wall = time.time()
        self._start = time.monotonic()
        self.offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._start_wall + (time.monotonic() - self._start) * self.speed + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        for listener in list(self._listeners):
            listener()

    def real_delay(self, seconds: float) -> float | None:
        return max(seconds, 0.0) / self.speed

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


@dataclass
class Target:
    name: str
    queue_url: str
    run_url: str
    key: str
    live: bool = False
    budget: Budget = field(default_factory=Budget)
    poll_interval: float = 0.05
    completion_timeout: float = 120.0
    advance: Callable[[float], None] | None = None
    """Moves the server's clock (emulator targets); None: time passes by itself."""
    traffic: Any = None
    """The server's own journal (``JournalTraffic``) when its traffic can be read."""
    faults: Any = None
    """Something with ``inject(*Fault)`` and ``clear()`` when faults can be injected."""
    clock_speed: float = 1.0
    """Emulated seconds per real second (journal timestamps are emulated time)."""
    manual_clock: bool = False
    """The server's time stands still until ``advance``: pollers must move it themselves."""
    notes: list[str] = field(default_factory=list)
    timeout: float | None = None
    """Seconds to wait for each answer (None: 600 on live, long enough for a sync run; else 60)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.key}"}

    def http(self, **options: Any) -> httpx.Client:
        """An httpx client with the key; timeouts long enough for a live sync run."""
        seconds = self.timeout or (600 if self.live else 60)
        options.setdefault("timeout", httpx.Timeout(seconds, connect=min(seconds, 30)))
        return httpx.Client(headers=self.headers, **options)

    def submit_url(self, endpoint_id: str) -> str:
        return f"{self.queue_url}/{endpoint_id}"

    def run_endpoint_url(self, endpoint_id: str) -> str:
        return f"{self.run_url}/{endpoint_id}"

    def request_url(self, request_id: str, op: str = "") -> str:
        return f"{self.queue_url}/{APP_ID}/requests/{request_id}{op}"

    @staticmethod
    def cost(endpoint_id: str, arguments: Any) -> int:
        """Cost units of one generation at its endpoint's price (Ray 2: 540p/5 s = 1; 720p 2x,
        1080p 4x, 9 s 2x; reframe/modify: one per started second of the input video, read
        back when it is a ``data:`` URI, else counted as the longest Ray 2 accepts). A unit of
        any family endpoint costs at most a Ray 2 540p/5 s clip, so a budget in units stays
        an upper bound in dollars. Input the app rejects costs nothing (fal answers its 422
        with ``x-fal-billable-units: 0``)."""
        return billed_units(endpoint_id, arguments, _data_uri_seconds(endpoint_id, arguments))

    def charge(self, endpoint_id: str, arguments: Any) -> int:
        """Spend the generation's cost units (raises BudgetExhausted first if it won't fit)."""
        units = self.cost(endpoint_id, arguments)
        resolution = arguments.get("resolution", "540p") if isinstance(arguments, Mapping) else ""
        self.budget.spend(units, f"{endpoint_id} {resolution}")
        return units

    def pause(self, step: float = 0.5) -> None:
        """Between two polls: let time pass (a manual clock is moved ``step`` seconds)."""
        if self.manual_clock and self.advance is not None:
            self.advance(step)
        time.sleep(self.poll_interval)


def _data_uri_seconds(endpoint_id: str, arguments: Any) -> float | None:
    """The input video's seconds when a per-second price's video is a ``data:`` URI (read
    locally, for free); None otherwise."""
    facts = ENDPOINT_FACTS.get(endpoint_id)
    price = None if facts is None else facts.price
    if price is None or not price.per_second or not isinstance(arguments, Mapping):
        return None
    url = arguments.get(price.per_second_of or "")
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    from contracts.server.sources import read_source

    try:
        return read_source(url).seconds
    except Exception:  # not a video: the request will fail, and a failure costs nothing
        return None


def _mock_target(
    *,
    clock: MockClock,
    state_dir: Path | None,
    wrap_app: Callable[[ASGIApp], ASGIApp] | None,
    capacity: int | None,
) -> Iterator[Target]:
    from contracts.server.traffic import JournalTraffic, ScenarioFaults
    from mockserver.app import create_app
    from mockserver.clock import ManualClock
    from mockserver.config import Config
    from mockserver.serving.background import BackgroundEmulator

    with contextlib.ExitStack() as stack:
        if state_dir is None:
            state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ray2-c-")))
        config = Config(
            port=0,
            tls_port=0,
            state_dir=state_dir,
            store="memory",
            timing="fast",
            capacity=capacity,
            api_key=MOCK_KEY,
            stream_keepalive_seconds=5.0,
        )
        emulated = ManualClock(start=time.time()) if clock == "manual" else ScaledClock()
        app: ASGIApp = create_app(config, clock=emulated)
        if wrap_app is not None:
            app = wrap_app(app)
        emulator = stack.enter_context(BackgroundEmulator(config, app=app))  # type: ignore[arg-type]
        control = stack.enter_context(httpx.Client(timeout=30))
        yield Target(
            name="mock",
            queue_url=emulator.url,
            run_url=f"{emulator.url}/run",
            key=MOCK_KEY,
            advance=lambda seconds: emulator.call(emulated.advance, seconds),
            traffic=JournalTraffic(emulator.url, http=control),  # the emulator's own journal
            faults=ScenarioFaults(emulator.url, http=control),  # and its own scenarios
            poll_interval=0.02,
            completion_timeout=60.0,
            clock_speed=1.0 if clock == "manual" else MOCK_SPEED,
            manual_clock=clock == "manual",
        )


def _url_target(
    url: str, run_base: str | None, key: str | None, admin_token: str | None = None
) -> Target:
    """A server by URL; when it is a ray2-mock, its journal and scenarios are used too (with
    ``admin_token`` when its control plane is closed: ``RAY2_MOCK_ADMIN_TOKEN`` by default)."""
    from contracts.server.traffic import JournalTraffic, ScenarioFaults

    token = admin_token or os.environ.get("RAY2_MOCK_ADMIN_TOKEN") or None
    control = httpx.Client(
        timeout=30, headers={"Authorization": f"Bearer {token}"} if token else None
    )
    base = url.rstrip("/")
    target = Target(
        name=base,
        queue_url=base,
        run_url=(run_base or f"{base}/run").rstrip("/"),
        key=key or os.environ.get("FAL_KEY") or MOCK_KEY,
        poll_interval=0.1,
        completion_timeout=600.0,
    )
    journal = JournalTraffic(base, http=control)
    if journal.available():
        target.traffic = journal
        target.notes.append("traffic read from /_mock/journal")
        faults = ScenarioFaults(base, http=control)
        if faults.available():
            target.faults = faults
            target.notes.append("faults injected through /_mock/scenarios")
    return target


def _live_target(run_base: str | None, budget: int, timeout: float | None) -> Target:
    key = os.environ.get("FAL_KEY")
    if not key:
        raise TargetUnavailable("live target skipped: set FAL_KEY to run the suite against fal")
    return Target(
        name="live",
        queue_url=LIVE_QUEUE_URL,
        run_url=(run_base or LIVE_RUN_URL).rstrip("/"),
        key=key,
        live=True,
        budget=Budget(limit=budget),
        poll_interval=2.0,
        completion_timeout=1800.0,
        timeout=timeout,
    )


@contextlib.contextmanager
def open_target(
    spec: str,
    *,
    run_base: str | None = None,
    live_budget: int = DEFAULT_LIVE_BUDGET,
    key: str | None = None,
    clock: MockClock = "scaled",
    state_dir: Path | None = None,
    wrap_app: Callable[[ASGIApp], ASGIApp] | None = None,
    capacity: int | None = None,
    timeout: float | None = None,
    admin_token: str | None = None,
) -> Iterator[Target]:
    """``mock`` (in-process emulator), ``live`` (fal, needs FAL_KEY) or an http(s) URL.

    Emulator-only options: ``clock`` (``scaled``: fast profile at 5x; ``manual``: moves only
    through ``target.advance``), ``state_dir`` (keeps the render cache between runs),
    ``wrap_app`` (wraps the ASGI app, e.g. a deliberately broken variant), ``capacity``.
    ``timeout``: seconds to wait for each answer (see ``Target.timeout``). ``admin_token``:
    a URL target's control-plane token (default ``RAY2_MOCK_ADMIN_TOKEN``), for its journal.
    """
    if spec == "mock":
        yield from _mock_target(
            clock=clock, state_dir=state_dir, wrap_app=wrap_app, capacity=capacity
        )
    elif spec == "live":
        yield _live_target(run_base, live_budget, timeout)
    elif spec.startswith(("http://", "https://")):
        target = _url_target(spec, run_base, key, admin_token)
        target.timeout = timeout
        yield target
    else:
        raise ValueError(f"unknown target {spec!r}: use mock, live or an http(s):// URL")
