"""Logs over time, the status stream and ``metrics.inference_time``, over a real socket.

Expected values come from fal's evidence: the gateway's five-minute log window (fal staff
quoting its code on fal-ai/fal PR #1143), the captured ``status/stream?logs=1`` session on
fal's docs (stored as ``tests/fixtures/evidence/fashn-stream.txt``), the live
``inference_time`` values, and the two client patterns fal's own code and README use.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from tests.support import REPO_ROOT, TEST_KEY, make_config

APP = "/fal-ai/luma-dream-machine"
T2V = f"{APP}/ray-2"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
START = 1_767_225_600.0
"""2026-01-01T00:00:00Z: the emulated clock's start, a whole second so edges are exact."""
FIVE_MINUTES = 300.0
"""fal's gateway: ``let max_range = chrono::Duration::minutes(5);`` (PR #1143, 2026-08-14)."""
CAPTURE = REPO_ROOT / "tests" / "fixtures" / "evidence" / "fashn-stream.txt"
LINE_BREAK = re.compile(rb"\r\n|\r|\n")
"""SSE allows all three; which one fal sends a docs transcript cannot show."""


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


def seconds_of(line: dict[str, Any]) -> float:
    """A log entry's time: fal's timestamps are naive UTC with microseconds."""
    return datetime.fromisoformat(line["timestamp"]).replace(tzinfo=UTC).timestamp()


def inside(lines: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The window rule: the lines whose time lies from ``start`` to ``end``."""
    return [line for line in lines if start <= seconds_of(line) <= end]


# -- polled logs ------------------------------------------------------------------------------


def test_polled_logs_are_a_moving_window_so_only_identity_sees_every_line(
    tmp_path: Path,
) -> None:
    window = 20.0
    with emulated(tmp_path, log_window_seconds=window) as mock:
        request_id = mock.submit()
        mock.step(request_id)  # starts now
        answers: list[tuple[float, bool, httpx.Response]] = []
        for poll in range(14):  # every 6 s from the start to 78 s: no line sits on an edge
            mock.advance(6 if poll else 0)
            answers.append((mock.now(), False, mock.poll(request_id)))
        mock.advance(6)
        mock.step(request_id)  # finishes at 84 s, the clock's time
        completed_at = mock.now()
        for later_by in (10, 1000):  # first asked once the clock has moved on
            mock.advance(later_by)
            answers.append((mock.now(), True, mock.poll(request_id)))
        every_line = mock.every_line(request_id)

    assert len(every_line) >= 4
    for now, completed, answer in answers:
        end = completed_at if completed else now  # fal: the window ends at the finish time
        assert answer.json()["logs"] == inside(every_line, end - window, end), now - START
    assert answers[-1][2].content == answers[-2][2].content  # a finished window stays put
    assert answers[-1][2].json()["logs"], "the lines before the finish are still answered"

    # fal's CLI (cli/api.py): "identity decides what is new"
    printed_by_identity: list[str] = []
    seen: set[tuple[str, str]] = set()
    for _, _, answer in answers:
        for entry in answer.json()["logs"]:
            key = (entry["timestamp"], entry["message"])
            if key not in seen:
                seen.add(key)
                printed_by_identity.append(entry["message"])

    # the fal_client README's loop: new_logs = event.logs[logs_index:]
    printed_by_position: list[str] = []
    logs_index = 0
    for _, _, answer in answers:
        logs = answer.json()["logs"]
        new_logs = logs[logs_index:]
        for log in new_logs:
            printed_by_position.append(log["message"])
        logs_index = len(logs)

    every_message = [line["message"] for line in every_line]
    assert printed_by_identity == every_message
    missed = [message for message in every_message if message not in printed_by_position]
    assert missed, "a positional cursor stalls once the window slides"


def test_the_log_window_is_five_minutes_by_default(tmp_path: Path) -> None:
    with emulated(tmp_path) as mock:
        request_id = mock.submit()
        mock.step(request_id)
        started = mock.now()
        mock.advance(FIVE_MINUTES - 0.5)
        before = mock.poll(request_id).json()["logs"]
        mock.advance(1.0)
        after = mock.poll(request_id).json()["logs"]
    first = before[0]
    assert seconds_of(first) == started  # the run's first line, printed as it started
    assert first not in after and after == before[1:]


def test_a_zero_log_window_answers_every_line_so_far(tmp_path: Path) -> None:
    with emulated(tmp_path, log_window_seconds=0) as mock:
        request_id = mock.submit()
        mock.step(request_id)
        mock.advance(10 * FIVE_MINUTES)
        running = mock.poll(request_id).json()["logs"]
        every_line = mock.every_line(request_id)
    assert running == every_line and len(running) >= 4


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


# -- the status stream ------------------------------------------------------------------------


def sse_items(raw: bytes) -> list[bytes]:
    """A stream's lines, checking the framing: each line is one field or comment, followed by
    a blank line (the capture's last one is cut off by the end of the transcript)."""
    lines = LINE_BREAK.split(raw)
    if lines[-1] == b"":
        lines.pop()
    items, blanks = lines[0::2], lines[1::2]
    assert all(items) and not any(blanks), raw[:400]
    assert len(blanks) in (len(items), len(items) - 1)
    return items


def captured_items() -> list[bytes]:
    """The captured session's stream: what follows the curl command and its blank line."""
    transcript = CAPTURE.read_bytes()
    command, _, stream = transcript.partition(b"\n\n")
    assert command.startswith(b"$ curl ") and command.endswith(
        b'--header "Authorization: Key $FAL_KEY"'
    )
    return sse_items(stream)


def events_of(items: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(item[len(b"data: ") :]) for item in items if item.startswith(b"data: ")]


@dataclass
class Timed:
    at: float
    item: bytes


def read_stream(response: httpx.Response) -> list[Timed]:
    """Each complete line as it arrives, with the seconds since reading began."""
    began, buffer, lines = time.monotonic(), b"", []
    for chunk in response.iter_raw():
        buffer += chunk
        *complete, buffer = LINE_BREAK.split(buffer)
        lines += [Timed(time.monotonic() - began, line) for line in complete if line]
    assert buffer == b"", "the stream ended inside a line"
    return lines


def later(*steps: tuple[float, Callable[[], None]]) -> threading.Thread:
    """Run each step after its delay (seconds since the previous one), in a thread."""

    def run() -> None:
        for delay, step in steps:
            time.sleep(delay)
            step()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def stream_path(request_id: str) -> str:
    return f"{APP}/requests/{request_id}/status/stream"


def test_status_stream_frames_events_like_the_captured_session(tmp_path: Path) -> None:
    capture = captured_items()
    captured = events_of(capture)
    comment = next(item for item in capture if item.startswith(b":"))
    with emulated(
        tmp_path,
        frozen=False,
        timing="fast",  # lines spread over 2.5 s of real time
        stream_keepalive_seconds=0.3,
        stream_repeat_seconds=0.3,
    ) as mock:
        request_id = mock.submit()
        driver = later((1.0, lambda: mock.step(request_id)), (4.0, lambda: mock.step(request_id)))
        with mock.http.stream("GET", stream_path(request_id), params={"logs": "1"}) as response:
            raw = b"".join(response.iter_raw())  # until the server closes the stream
        driver.join()
    items = sse_items(raw)
    events = events_of(items)

    # every line is a data field or the keep-alive comment, byte for byte as captured
    assert {item.partition(b":")[0] for item in capture} == {b"data", b""}
    assert comment == b": ping"
    assert [item for item in items if not item.startswith(b"data: ")] == [comment] * (
        len(items) - len(events)
    )
    assert len(items) > len(events), "no keep-alive comment was sent"
    # Python's json.dumps spacing, as every captured event shows
    for item in capture + items:
        text = item[len(b"data: ") :].decode()
        if item.startswith(b"data: "):
            assert json.dumps(json.loads(text)) == text
    # the captured key order, per status and per log entry
    order = {event["status"]: list(event) for event in captured}
    line_keys = [list(line) for event in captured for line in event["logs"]]
    metrics = {event["status"]: list(event["metrics"]) for event in captured}
    for event in events:
        if event["status"] in order:
            assert list(event) == order[event["status"]]
            assert list(event["metrics"]) == metrics[event["status"]]
        assert all([list(line)] == line_keys[:1] for line in event["logs"])
    # the unchanged status is sent again while it runs (captured events 3 and 4)
    assert captured[2] == captured[3] and captured[2]["logs"] == []
    running = [event for event in events if event["status"] == "IN_PROGRESS"]
    assert any(a == b and a["logs"] == [] for a, b in zip(running, running[1:], strict=False))
    # each line once, and the stream ends with the COMPLETED event
    keys = [(line["timestamp"], line["message"]) for event in events for line in event["logs"]]
    assert len(keys) == len(set(keys)) >= 4
    assert captured[-1]["status"] == events[-1]["status"] == "COMPLETED"
    assert items[-1].startswith(b'data: {"status": "COMPLETED"')


def test_status_stream_pings_every_15_s_and_repeats_the_status(tmp_path: Path) -> None:
    with emulated(tmp_path, frozen=False, timing="instant") as mock:
        request_id = mock.submit()
        mock.step(request_id)  # running: every line printed at once
        driver = later((17.0, lambda: mock.step(request_id)))
        with mock.http.stream("GET", stream_path(request_id), params={"logs": "1"}) as response:
            lines = read_stream(response)
        driver.join()
    pings = [line.at for line in lines if line.item == b": ping"]
    assert len(pings) == 1 and 14.5 <= pings[0] <= 16.5  # fal's docs: every 15 seconds
    events = [(line.at, json.loads(line.item[6:])) for line in lines if line.item[:5] == b"data:"]
    running = [(at, event) for at, event in events if event["status"] == "IN_PROGRESS"]
    assert running[0][1]["logs"] and all(event["logs"] == [] for _, event in running[1:])
    # then the unchanged status again about every 5 s (the cadence is inferred)
    gaps = [b - a for (a, _), (b, _) in zip(running, running[1:], strict=False)]
    assert len(gaps) == 3 and all(4.75 <= gap <= 6.0 for gap in gaps), gaps
    assert events[-1][1]["status"] == "COMPLETED"


def test_status_stream_sends_every_line_once_across_a_clock_jump(tmp_path: Path) -> None:
    window = 20.0
    with emulated(tmp_path, log_window_seconds=window) as mock:
        request_id = mock.submit()
        mock.step(request_id)
        driver = later(
            (0.6, lambda: mock.advance(80)),  # lines arrive and leave the window meanwhile
            (0.6, lambda: mock.step(request_id)),
        )
        with mock.http.stream("GET", stream_path(request_id), params={"logs": "1"}) as response:
            events = events_of(sse_items(b"".join(response.iter_raw())))
        driver.join()
        every_line = mock.every_line(request_id)
        polled = mock.poll(request_id).json()
        with mock.http.stream("GET", stream_path(request_id), params={"logs": "1"}) as response:
            late = events_of(sse_items(b"".join(response.iter_raw())))
    streamed = [line for event in events for line in event["logs"]]
    assert streamed == every_line  # a live stream sends lines as they come, each once
    # a stream opened later starts from what a poll shows: the window
    assert [event["status"] for event in late] == ["COMPLETED"]
    assert late[0]["logs"] == polled["logs"] == inside(every_line, START + 80 - window, START + 80)
