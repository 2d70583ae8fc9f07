"""Two replicas driving one request on one Redis, step by step on a frozen clock: whichever
writes first, the request completes once (one completion, one webhook's worth of listeners),
and the replica that lost the race lets the request go."""

from __future__ import annotations

import pytest

from mockserver.clock import ManualClock
from mockserver.queue import RequestQueue
from mockserver.records import RequestRecord
from mockserver.shared.connection import Keys, SharedRedis
from mockserver.shared.store import RedisStore
from tests.redis_server import RedisServer, unique_prefix
from tests.unit.conftest import settle
from tests.unit.test_queue import PROFILE, T2V, Producer


def replica(url: str, prefix: str, clock: ManualClock) -> tuple[RequestQueue, list[str]]:
    store = RedisStore(SharedRedis(url, keys=Keys(prefix)))
    queue = RequestQueue(store, clock, PROFILE, Producer(), resume=False)
    completed: list[str] = []
    queue.completion_listeners.append(lambda record: completed.append(record.request_id))
    return queue, completed


@pytest.mark.parametrize("first", ["submitter", "adopter"])
async def test_one_completion_whoever_writes_first(redis_server: RedisServer, first: str) -> None:
    clock, prefix = ManualClock(), unique_prefix()
    a, a_done = replica(redis_server.url, prefix, clock)
    b, b_done = replica(redis_server.url, prefix, clock)
    submitted = a.submit(T2V, {"prompt": "raced by two replicas"})
    stored = b.store.get(submitted.request_id)
    assert isinstance(stored, RequestRecord)
    b.adopt(stored)  # b believes a gone: both now drive it
    await settle(a)
    await settle(b)
    clock.advance(60)
    order = (a, b) if first == "submitter" else (b, a)
    for queue in order:
        queue.advance()
    for queue in order:  # the loser replays with what the winner stored
        await settle(queue)
    final = a.store.get(submitted.request_id)
    assert final is not None and final.status == "COMPLETED"
    assert a_done + b_done == [submitted.request_id]
    assert a.slots_taken() == b.slots_taken() == 0
    assert b.store.unfinished() == []
