"""``metrics.inference_time`` over a real socket.

Expected values come from fal's evidence: the live ``inference_time`` values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config

APP = "/fal-ai/luma-dream-machine"
T2V = f"{APP}/ray-2"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
START = 1_767_225_600.0
"""2026-01-01T00:00:00Z: the emulated clock's start, a whole second so edges are exact."""


@dataclass
class Emulated:
    """An emulator on a frozen clock, with manual progression: the test moves everything."""

    http: httpx.Client
    control: httpx.Client

    def now(self) -> float:
        return self.control.get("/_mock/clock").json()["now"]

    def advance(self, seconds: float) -> None:
        self.control.post("/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()

    def step(self, request_id: str) -> None:
        self.control.post(f"/_mock/requests/{request_id}/advance").raise_for_status()

    def submit(self) -> str:
        return self.http.post(T2V, json={"prompt": "a fox in the snow"}).json()["request_id"]

    def poll(self, request_id: str) -> httpx.Response:
        return self.http.get(f"{APP}/requests/{request_id}/status", params={"logs": "1"})

    def every_line(self, request_id: str) -> list[dict[str, Any]]:
        """Every line the model printed (the control API's full record, no window)."""
        return self.control.get(f"/_mock/requests/{request_id}").json()["logs"]


@contextmanager
def emulated(tmp_path: Path, *, frozen: bool = True, **overrides: Any) -> Iterator[Emulated]:
    # realistic timing: a 540p 5 s clip runs 90 s, so its lines are spread over minutes
    settings: dict[str, Any] = {"timing": "realistic", "progression": "manual", **overrides}
    config = make_config(tmp_path, **settings)
    app = create_app(config, clock=ManualClock(START)) if frozen else create_app(config)
    with (
        BackgroundEmulator(config, app) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as http,
        httpx.Client(base_url=emulator.url, timeout=30) as control,
    ):
        yield Emulated(http, control)


# -- metrics.inference_time -------------------------------------------------------------------


def test_inference_time_is_the_run_time_unrounded(tmp_path: Path) -> None:
    run = 12.3456789  # sub-millisecond digits a rounding would drop
    with emulated(tmp_path) as mock:
        request_id = mock.submit()
        mock.step(request_id)
        started = mock.now()
        mock.advance(run)
        mock.step(request_id)
        done = mock.poll(request_id)
    # fal sends the raw float difference (live: 17.795265674591064, 9.276242017745972)
    expected = (started + run) - started
    assert done.status_code == 200
    assert f'"metrics": {{"inference_time": {expected!r}}}'.encode() in done.content
    assert len(repr(expected).partition(".")[2]) > 3
