"""The queue path stays linear in the number of requests in flight.

Under load, requests pile up between two runs of the driver; `advance` used to recompute every
running request's completion time once per transition it applied, so a backlog of n cost n^2
and the server fell further behind the more it had to do (submit p99 > 1 s at 8 connections).
Counted, not timed, so the test is exact on a busy machine.
"""

from __future__ import annotations

import asyncio

import pytest

from mockserver.clock import ManualClock
from mockserver.queue import Production, RequestQueue
from mockserver.records import RequestRecord
from mockserver.stores import MemoryStore
from mockserver.timing import TimingProfile

T2V = "fal-ai/luma-dream-machine/ray-2"
BACKLOG = 2_000


async def _instant(record: RequestRecord) -> Production:
    return Production(media={"key": "k", "file_name": "o.mp4", "file_size": 1})


@pytest.mark.parametrize("capacity", [1_000_000, 10])
async def test_advance_over_a_backlog_is_linear(
    monkeypatch: pytest.MonkeyPatch, capacity: int
) -> None:
    profile = TimingProfile("t", 0.0, 1.0, 0.0, capacity=capacity)
    clock = ManualClock()
    queue = RequestQueue(MemoryStore(), clock, profile, _instant)
    records = [queue.submit(T2V, {"prompt": f"p prompt {i}"}) for i in range(BACKLOG)]
    for _ in range(3):
        await asyncio.sleep(0)  # every producer has finished
    calls = 0
    original = queue._completion_time

    def counted(record: RequestRecord) -> float | None:
        nonlocal calls
        calls += 1
        return original(record)

    monkeypatch.setattr(queue, "_completion_time", counted)
    clock.advance(3600)  # everything is due: BACKLOG starts and BACKLOG finishes in one replay
    queue.advance()
    assert {queue.get(r.request_id).status for r in records} == {"COMPLETED"}
    assert calls <= 3 * BACKLOG
