"""The servers the benchmarks compare, each a real process on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import pinning
from bench.loadgen import node_bin


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory of the process and its children (workers, ffmpeg)."""
        return sum(_rss_kb(pid) for pid in [self.pid, *_descendants(self.pid)]) / 1024


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        frontier += children
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(
    name: str,
    command: list[str],
    port: int,
    ready_path: str,
    cores: Sequence[int] | None = None,
) -> Iterator[Server]:
    """Start `command` (pinned to `cores`, children included), wait until GET ready_path
    answers, stop it (SIGTERM, then SIGKILL)."""
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=pinning.preexec(cores)
        )
    url = f"http://127.0.0.1:{port}"
    server = Server(name, proc, url, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + ready_path, headers={"Authorization": "Key bench:key"}, timeout=2)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        if cores is not None and os.sched_getaffinity(proc.pid) != set(cores):
            raise RuntimeError(f"{name} is not pinned to {list(cores)}")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.unlink(missing_ok=True)


def emulator(
    name: str,
    state_dir: Path,
    *,
    store: str,
    workers: int = 1,
    timing: str = "instant",
    cores: Sequence[int] | None = None,
) -> contextlib.AbstractContextManager[Server]:
    """`ray2-mock serve` in its production shape: uvicorn on uvloop + httptools, access log off."""
    port = free_port()
    command = [
        sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port), "--tls-port", "0",
        "--state-dir", str(state_dir), "--store", store, "--timing", timing,
        "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    return running(name, command, port, "/_mock/health", cores)


def ceiling(cores: Sequence[int] | None = None) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    command = [sys.executable, "-m", "bench.ceiling", "--port", str(port)]
    return running("ceiling", command, port, "/_mock/health", cores)


def prism(
    work_dir: Path, document: dict[str, Any], cores: Sequence[int] | None = None
) -> contextlib.AbstractContextManager[Server]:
    """Prism (pinned in bench/node) mocking `document` with its static examples. Log level
    fatal: at warn it writes three lines per invalid request, which the emulator (at warning)
    does not; any answer, even its 404 for an unknown path, says it is up."""
    port = free_port()
    spec = work_dir / "prism-openapi.json"
    spec.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    command = [str(node_bin("prism")), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "fatal"]
    return running("prism", [*command, str(spec)], port, "/_mock/health", cores)


def completed_request(url: str) -> str:
    """A finished request to read status and result of (the ceiling and Prism take any id)."""
    app, auth = "/fal-ai/luma-dream-machine", {"Authorization": "Key bench:key"}
    submitted = httpx.post(f"{url}{app}/ray-2", json={"prompt": "bench"}, headers=auth)
    request_id = str(submitted.raise_for_status().json()["request_id"])
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}{app}/requests/{request_id}/status", headers=auth).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never completed its first request")
        time.sleep(0.1)
    return request_id
