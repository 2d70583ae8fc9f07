"""What one replica changes, the others hear at once (Redis pub/sub), and what they count
together: two emulators on one Redis, in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.redis_server import RedisServer
from tests.support import TEST_KEY, make_config, wait_until

T2V = "fal-ai/luma-dream-machine/ray-2"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[BackgroundEmulator, BackgroundEmulator]]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        configs = [
            make_config(tmp_path / name, store=server.url, timing="realistic") for name in "ab"
        ]
        with BackgroundEmulator(configs[0]) as a, BackgroundEmulator(configs[1]) as b:
            yield a, b
    finally:
        server.stop()


def submit(url: str, prompt: str, **headers: str) -> str:
    answer = httpx.post(f"{url}/{T2V}", json={"prompt": prompt}, headers=AUTH | headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["request_id"])


def test_a_change_on_one_replica_wakes_the_others_watchers(
    pair: tuple[BackgroundEmulator, BackgroundEmulator],
) -> None:
    """A status stream waits for ``wait_changed``: on a replica that does not drive the request,
    only the other replica's event can end that wait (no timeout is given)."""
    a, b = pair
    request_id = submit(b.url, "heard on a")
    wait_until(lambda: a.services.replica is not None and a.services.replica.subscribed.is_set())
    woken = a.schedule(a.services.queue.wait_changed(None))
    assert not woken.done()
    httpx.put(f"{b.url}/fal-ai/luma-dream-machine/requests/{request_id}/cancel", headers=AUTH)
    woken.result(timeout=10)  # the cancel's write, announced by b


def test_the_ledger_sums_every_replicas_spend(
    pair: tuple[BackgroundEmulator, BackgroundEmulator],
) -> None:
    """Ray 2 540p 5 s is $0.50 a clip (the ledger's own evidence, 3P): two clips, one through
    each replica, are $1.00 on either replica's ledger."""
    a, b = pair
    ids = [submit(a.url, "billed on a"), submit(b.url, "billed on b")]
    httpx.post(f"{a.url}/_mock/clock/advance", json={"seconds": 600})
    for request_id in ids:
        wait_until(
            lambda r=request_id: (
                httpx.get(
                    f"{a.url}/fal-ai/luma-dream-machine/requests/{r}/status", headers=AUTH
                ).status_code
                == 200
            )
        )
    for replica in (a, b):
        ledger = httpx.get(f"{replica.url}/_mock/ledger").json()
        assert ledger["total_usd"] == 1.0
        (row,) = ledger["keys"]
        assert row["billed_requests"] == 2
