"""The shared observers' races, played in-process by two "replicas" (two clients under one key
prefix on a real Redis): what a replica still held when another reset is not put back, and a
reset restarts every replica's random draws."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mockserver.chaos.model import FaultDocument
from mockserver.fal.operations import FalCall
from mockserver.observation.journal import JournalEntry
from mockserver.shared.connection import Keys, SharedRedis
from mockserver.shared.journal import SharedJournal
from mockserver.shared.metrics import SharedMetrics
from mockserver.shared.scenarios import SharedFaultEngine
from tests.redis_server import RedisServer, unique_prefix

RUN = FalCall("run", "fal-ai/luma-dream-machine/ray-2")


@pytest.fixture
def replicas(redis_server: RedisServer) -> Iterator[tuple[SharedRedis, SharedRedis]]:
    """Two replicas' connections under one key prefix of this test's own."""
    keys = Keys(unique_prefix())
    pair = SharedRedis(redis_server.url, keys=keys), SharedRedis(redis_server.url, keys=keys)
    yield pair
    for shared in pair:
        shared.sync.close()


def finished(route: str = "submit", status: int = 200) -> JournalEntry:
    return JournalEntry(
        id=0,
        at=1.0,
        method="POST",
        host="127.0.0.1",
        path="/fal-ai/luma-dream-machine/ray-2",
        query="",
        route=route,
        endpoint_id="fal-ai/luma-dream-machine/ray-2",
        request_id=None,
        raw_request_headers=[(b"authorization", b"Key abcd:0123456789")],
        status=status,
        duration_ms=1.5,
        finished=True,
        request_raw=bytearray(b'{"prompt": "x"}'),
        request_bytes=15,
    )


def test_an_entry_held_when_another_replica_cleared_is_not_put_back(
    replicas: tuple[SharedRedis, SharedRedis],
) -> None:
    left, right = replicas
    a, b = SharedJournal(left, 10), SharedJournal(right, 10)
    on_finish_a = a.on_finish(lambda entry: None)
    on_finish_a(finished(status=500))  # A's writer has not run yet ...
    assert b.clear() == 0  # ... when B clears
    on_finish_a(finished(status=201))  # answered after the clear
    a.flush()
    [kept] = b.entries()
    assert (kept.status, kept.id) == (201, 1), "the dropped entry took no id"
    assert kept.request_headers["authorization"] == "Key ****6789"
    assert b"0123456789" not in b"".join(
        value
        for _, fields in right.sync.xrange(right.keys.of("journal"))
        for value in fields.values()
    ), "the secret never reaches Redis"


def test_a_replica_that_missed_a_reset_cannot_put_its_old_counts_back(
    replicas: tuple[SharedRedis, SharedRedis],
) -> None:
    left, right = replicas
    a, b = SharedMetrics(left), SharedMetrics(right)

    async def scene() -> None:
        a.start(lambda: 0)
        b.start(lambda: 0)
        try:
            a.observe(finished())
            await a.publish()
            assert [r["count"] for r in b.snapshot(0, {})["requests"]] == [1]
            b.reset()
            b.clear_shared()  # a reset through B; A has not heard of it
            await a.publish()  # A's old count: refused, and A counts from the reset now
            assert b.snapshot(0, {})["requests"] == []
            assert a.snapshot(0, {})["requests"] == []
            a.observe(finished())  # counted after the reset
            await a.publish()
            assert [r["count"] for r in b.snapshot(0, {})["requests"]] == [1]
        finally:
            await a.stop()
            await b.stop()
            await left.aclose()
            await right.aclose()

    left.sync.set(left.keys.replica(left.replica_id), "1")  # both alive: heartbeats
    right.sync.set(right.keys.replica(right.replica_id), "1")
    asyncio.run(scene())


def draws(engine: SharedFaultEngine, count: int) -> list[bool]:
    out = []
    for _ in range(count):
        engine.refresh()
        out.append(engine.decide(RUN, {}) is not None)
    return out


def test_a_reset_restarts_every_replicas_random_draws(
    replicas: tuple[SharedRedis, SharedRedis],
) -> None:
    left, right = replicas
    a = SharedFaultEngine(left, FaultDocument(seed=4, fault_rates={"run_429": 0.5}))
    b = SharedFaultEngine(right, FaultDocument())
    a.refresh()  # the first replica to ask installs its start
    first = draws(b, 30)
    assert any(first) and not all(first), "B draws from the seed A's start installed"
    assert draws(a, 30) == first, "each replica draws its own sequence from the one seed"
    a.reset()
    assert draws(b, 30) == first, "B heard of nothing, yet draws afresh"
