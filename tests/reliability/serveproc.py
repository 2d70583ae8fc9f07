"""`ray2-mock serve` as a real child process: start, wait until it answers, stop or kill -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from mockserver.serving.server import SERVER_INFO_FILE, ServerInfo


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    info: ServerInfo
    log: Path

    @property
    def url(self) -> str:
        return self.info.url

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as Ctrl-C or a process manager would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        """The crash: no shutdown code runs, not even for the ffmpeg children."""
        children = child_pids(self.proc.pid)
        self.proc.kill()
        self.proc.wait(10)
        for pid in children:  # ffmpeg renders the dead server started: ours to end
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start_serve(
    state_dir: Path, *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> ServeProcess:
    """Start on free ports (port 0) and return once /_mock/health answers; ``env`` adds to
    this process's environment."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / SERVER_INFO_FILE).unlink(missing_ok=True)
    log = state_dir / f"serve-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    command += ["--state-dir", str(state_dir), *args]
    with log.open("wb") as sink:
        environ = {**os.environ, **(env or {})}
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=environ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}:\n{log.read_text()}")
        info = ServerInfo.read(state_dir)
        if info is not None:
            try:
                if httpx.get(f"{info.url}/_mock/health", timeout=2).status_code == 200:
                    return ServeProcess(proc, info, log)
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"serve did not answer within {timeout} s:\n{log.read_text()}")


def listening_addresses(pids: list[int]) -> set[str]:
    """Local addresses of the LISTEN sockets these processes hold (read from /proc, no traffic)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(fields[1].split(":")[0])
    return found
