"""N real ``ray2-mock serve`` replicas on one real Redis, each with a state directory of its own,
and the unmodified ``fal_client`` pointed at any one of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fal_client
import fal_client.client as fal_client_module
import httpx

from tests.redis_server import RedisServer
from tests.reliability.serveproc import ServeProcess, start_serve
from tests.support import TEST_KEY

T2V = "fal-ai/luma-dream-machine/ray-2"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


@dataclass
class Replicas:
    redis: RedisServer
    processes: list[ServeProcess]
    state: Path

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.processes]

    def start_one(self, name: str, *args: str) -> ServeProcess:
        process = start_serve(
            self.state / name,
            "--store",
            self.redis.url,
            "--tls-port",
            "0",
            "--log-level",
            "warning",
            *args,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop()


@contextlib.contextmanager
def running_replicas(
    state: Path, count: int, *args: str, always_fsync: bool = False
) -> Iterator[Replicas]:
    redis = RedisServer(state / "redis", always_fsync=always_fsync).start()
    replicas = Replicas(redis, [], state)
    try:
        for index in range(count):
            replicas.start_one(f"replica-{'abcdefgh'[index]}", *args)
        yield replicas
    finally:
        replicas.stop()
        redis.kill()


def client_at(url: str) -> fal_client.SyncClient:
    """The unmodified client, its queue URLs on ``url`` (the globals it reads at call time)."""
    fal_client_module.QUEUE_URL_FORMAT = f"{url}/"
    fal_client_module.RUN_URL_FORMAT = f"{url}/run/"
    return fal_client.SyncClient(key=TEST_KEY)


def control(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = httpx.request(method, f"{url}/_mock{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response


def status(url: str, request_id: str) -> httpx.Response:
    return httpx.get(
        f"{url}/{T2V.rsplit('/', 1)[0]}/requests/{request_id}/status", headers=AUTH, timeout=10
    )
