"""kill -9 in the middle of work, restart on the same state dir: nothing accepted is lost.

`ray2-mock serve` (SQLite store, fast timing, capacity 2 so requests wait in the queue) runs as a
real process. Submits keep arriving until the kill, which lands while requests are queued, in
progress and rendering (an ffmpeg child is running). The ffmpeg orphans are left to finish, as
they would after a real crash. The restarted server must know every request that was answered
200, complete each with a playable video, and never have shown a partially written MP4.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from contracts.server.mp4probe import probe
from tests.reliability.budget import scaled
from tests.reliability.serveproc import ServeProcess, child_pids, start_serve
from tests.support import TEST_KEY

AUTH = {"Authorization": f"Key {TEST_KEY}"}
T2V = "/fal-ai/luma-dream-machine/ray-2"
REQUESTS = "/fal-ai/luma-dream-machine/requests"
SERVE_ARGS = ("--store", "sqlite", "--timing", "fast", "--capacity", "2", "--tls-port", "0")
PROMPTS = scaled(3, 12)  # distinct renders in flight at the kill
LATE_SUBMITS = scaled(4, 30)  # at most, racing the kill


def _ffmpeg_children(served: ServeProcess) -> list[int]:
    found = []
    for pid in child_pids(served.proc.pid):
        try:
            if b"ffmpeg" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def _statuses(url: str, ids: list[str]) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        return {i: client.get(f"{REQUESTS}/{i}/status").json()["status"] for i in ids}


def _complete_videos_only(media: Path) -> list[str]:
    """Every final-named file in the media dir is a whole, decodable MP4."""
    finals = sorted(p for p in media.glob("*.mp4") if not p.name.startswith(".tmp-"))
    for path in finals:
        probe(path, decode=False)
    return [p.name for p in finals]


def test_kill9_while_queued_and_rendering_then_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    served = start_serve(state, *SERVE_ARGS)
    accepted: list[str] = []
    stop_submitting = threading.Event()

    def keep_submitting() -> None:
        """Submits racing the kill: only those answered 200 count as accepted."""
        for n in range(LATE_SUBMITS):
            if stop_submitting.is_set():
                return
            try:
                response = httpx.post(
                    served.url + T2V, json={"prompt": f"late {n % 2}"}, headers=AUTH, timeout=5
                )
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 200:
                accepted.append(response.json()["request_id"])
            time.sleep(0.1)

    orphans: list[int] = []
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            for i in range(PROMPTS):
                body = {"prompt": f"crash {i}"}
                response = client.post(T2V, json=body)
                assert response.status_code == 200
                accepted.append(response.json()["request_id"])
        submitter = threading.Thread(target=keep_submitting)
        submitter.start()
        deadline = time.monotonic() + 30
        states: set[str] = set()
        while time.monotonic() < deadline:
            states = set(_statuses(served.url, accepted[:PROMPTS]).values())
            if {"IN_QUEUE", "IN_PROGRESS"} <= states and _ffmpeg_children(served):
                break
            time.sleep(0.05)
        assert {"IN_QUEUE", "IN_PROGRESS"} <= states, states
        orphans = _ffmpeg_children(served)
        assert orphans, "no render in flight at the kill"
        served.proc.send_signal(signal.SIGKILL)
        served.proc.wait(10)
        stop_submitting.set()
        submitter.join(10)
        before_restart = _complete_videos_only(state / "media")

        served = start_serve(state, *SERVE_ARGS)
        deadline = time.monotonic() + scaled(400, 1200)  # a hang backstop, not a speed target
        statuses = _statuses(served.url, accepted)
        while set(statuses.values()) != {"COMPLETED"} and time.monotonic() < deadline:
            time.sleep(0.25)
            statuses = _statuses(served.url, accepted)
        assert set(statuses.values()) == {"COMPLETED"}, statuses

        with httpx.Client(base_url=served.url, headers=AUTH, timeout=30) as client:
            for request_id in accepted:
                result = client.get(f"{REQUESTS}/{request_id}")
                assert result.status_code == 200, result.text
                video = client.get(result.json()["video"]["url"])
                assert video.status_code == 200
                assert int(video.headers["content-length"]) == len(video.content)
                path = tmp_path / "fetched.mp4"
                path.write_bytes(video.content)
                assert probe(path, decode=False).frames > 0
            for stray in (state / "media").glob(".tmp-*"):  # never reachable over HTTP
                leak = client.get(f"/files/mock/{stray.name}")
                assert leak.status_code == 404
        assert set(before_restart) <= set(_complete_videos_only(state / "media"))
        with sqlite3.connect(state / "requests.sqlite3") as db:
            stored = [row[0] for row in db.execute("SELECT request_id FROM requests")]
        assert sorted(stored) == sorted(set(stored))  # no duplicates
        assert set(accepted) <= set(stored)  # every accepted request survived
        print(f"crash: {len(accepted)} accepted, {len(stored)} stored, all completed")
    finally:
        assert served.stop() == 0, served.log_text()
        for pid in orphans:  # the renders the dead server left behind, if still running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
