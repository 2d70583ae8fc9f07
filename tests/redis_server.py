"""A real ``redis-server`` of the test's own, on a free port, that a test may stop, kill and start
again (the Redis store's fault tests). ``scripts/ensure-redis.sh`` (run by ``make test``)
installs Debian's package when it is missing."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")
_prefixes = itertools.count(1)


def require_redis() -> str:
    if REDIS_SERVER is None:
        pytest.skip(
            "[required tool] redis-server not found: `make test` installs it with apt-get when "
            "run as root (scripts/ensure-redis.sh)"
        )
    return REDIS_SERVER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix() -> str:
    """Keys of one test apart from every other's on a shared server."""
    return f"ray2-mock-test-{next(_prefixes)}:"


class RedisServer:
    """One server process; ``always_fsync`` turns on the AOF with ``appendfsync always``."""

    def __init__(self, directory: Path, *, always_fsync: bool = False) -> None:
        self.binary = require_redis()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.always_fsync = always_fsync
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        """It also listens on this Unix socket (``unix://`` URLs)."""
        return self.directory / "redis.sock"

    def start(self) -> RedisServer:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.always_fsync
            else ["--appendonly", "no"]
        )
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("redis-server did not answer within 10 s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis writes what it must and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: nothing more reaches the disk than was there already."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
