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


def status_of(url: str, request_id: str) -> str:
    answer = httpx.get(
        f"{url}/fal-ai/luma-dream-machine/requests/{request_id}/status", headers=AUTH
    )
    return str(answer.json()["status"])


def test_a_change_on_one_replica_wakes_the_others_watchers(
    pair: tuple[BackgroundEmulator, BackgroundEmulator],
) -> None:
    """A status stream waits for ``wait_changed``: on a replica that does not drive the request,
    only the other replica's event can end that wait (no timeout is given)."""
    a, b = pair
    request_id = submit(b.url, "heard on a")
    wait_until(lambda: a.services.replica is not None and a.services.replica.subscribed.is_set())
    woken = a.schedule(a.services.queue.wait_changed(None))
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
        wait_until(lambda r=request_id: status_of(a.url, r) == "COMPLETED")
    for replica in (a, b):
        ledger = httpx.get(f"{replica.url}/_mock/ledger").json()
        assert ledger["total_usd"] == 1.0
        (row,) = ledger["keys"]
        assert row["billed_requests"] == 2


def test_a_request_accepted_while_another_replica_resets_is_still_driven(
    pair: tuple[BackgroundEmulator, BackgroundEmulator],
) -> None:
    """A reset clears Redis, then tells the other replicas. A request submitted through b
    between the two exists: b must not lose it when it hears of the reset (it reads its
    requests again instead of dropping them; failing that, its sweep would take it back)."""
    a, b = pair
    a.call(a.services.store.clear)  # the reset's first half, through a
    request_id = submit(b.url, "accepted mid-reset")
    a.call(a.services.shared.announce, "x")  # its second half: b hears of the reset
    httpx.post(f"{a.url}/_mock/clock/advance", json={"seconds": 600})
    wait_until(lambda: status_of(a.url, request_id) == "COMPLETED", what="b to finish the request")


def test_a_request_this_replica_owns_but_lost_is_driven_again(
    pair: tuple[BackgroundEmulator, BackgroundEmulator],
) -> None:
    """A submit whose write reached Redis but whose answer did not (a timeout) is owned by a
    live replica that does not drive it: the sweep picks it up, and it finishes."""
    a, _ = pair
    request_id = submit(a.url, "written, then lost")
    a.call(a.services.queue.forget_local)  # a no longer drives it; Redis still has it
    httpx.post(f"{a.url}/_mock/clock/advance", json={"seconds": 600})
    wait_until(lambda: status_of(a.url, request_id) == "COMPLETED", what="the sweep to adopt it")
