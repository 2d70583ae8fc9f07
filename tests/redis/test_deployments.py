"""Other shapes of a deployment: ``serve --workers 2`` on a Redis reached by its Unix socket
(two replicas in one command), and a password that never shows."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.config import Config
from mockserver.serving.server import ServerInfo, startup_banner
from mockserver.shared.connection import mask_url
from tests.redis_server import RedisServer
from tests.reliability.serveproc import start_serve
from tests.support import TEST_KEY, wait_until

AUTH = {"Authorization": f"Key {TEST_KEY}"}
APP = "fal-ai/luma-dream-machine"

pytestmark = pytest.mark.slow


def test_two_workers_on_a_unix_socket_redis_share_every_request(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        serve = start_serve(
            tmp_path / "serve",
            "--store",
            f"unix://{redis.socket_path}?db=0",
            "--workers",
            "2",
            "--tls-port",
            "0",
            "--timing",
            "instant",
        )
    except BaseException:
        redis.stop()  # a serve that did not start must not leave its Redis running
        raise
    try:
        ids = []
        for _ in range(12):
            with httpx.Client(headers=AUTH) as fresh:  # a new connection: either worker
                answer = fresh.post(f"{serve.url}/{APP}/ray-2", json={"prompt": "on either worker"})
                assert answer.status_code == 200, answer.text
                ids.append(answer.json()["request_id"])
        for request_id in ids:
            wait_until(
                lambda r=request_id: (
                    httpx.get(f"{serve.url}/{APP}/requests/{r}/status", headers=AUTH).json()[
                        "status"
                    ]
                    == "COMPLETED"
                )
            )
        replicas = [k for k in _keys(redis) if k.startswith("ray2-mock:replica:")]
        assert len(replicas) == 2  # each worker is a replica of its own
    finally:
        serve.stop()
        redis.stop()


def _keys(redis: RedisServer) -> list[str]:
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    try:
        return sorted(key.decode() for key in client.keys("*"))
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@redis.internal:6379/0", "redis://:****@redis.internal:6379/0"),
        ("rediss://team:s3cret@redis.internal/1", "rediss://team:****@redis.internal/1"),
        (
            "redis://redis.internal/0?password=s3cret&db=1",
            "redis://redis.internal/0?password=****&db=1",
        ),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=****"),
    ],
)
def test_a_redis_password_is_never_shown(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    info = ServerInfo(host="127.0.0.1", port=8765, tls_port=None, proxy_port=None, ca_cert=None)
    banner = startup_banner(info, Config(store=url))
    assert "s3cret" not in banner and f"store={shown}" in banner
