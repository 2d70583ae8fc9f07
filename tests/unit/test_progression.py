"""Progression modes, start deadlines and scenario plans in the state machine (frozen clock)."""

from __future__ import annotations

import pytest

from mockserver.clock import ManualClock
from mockserver.queue import Production, RequestQueue, check_progression, start_timeout
from mockserver.records import RequestPlan, RequestRecord
from mockserver.stores import RequestStore
from mockserver.timing import TimingProfile
from tests.unit.conftest import settle

T2V = "fal-ai/luma-dream-machine/ray-2"
PROFILE = TimingProfile(
    "test", queue_seconds=1.0, run_seconds_base=10.0, run_seconds_per_unit=5.0, capacity=2
)
MEDIA = {"key": "k", "file_name": "output.mp4", "file_size": 1, "content_type": "video/mp4"}


async def produce(record: RequestRecord) -> Production:
    return Production(media=MEDIA)


def status(queue: RequestQueue, record: RequestRecord) -> str:
    current = queue.get(record.request_id)
    assert current is not None
    return current.status


async def test_manual_moves_only_when_stepped(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce, progression="manual")
    record = queue.submit(T2V, {"prompt": "hold"})
    other = queue.submit(T2V, {"prompt": "timed"}, plan=RequestPlan(progression="timed"))
    await settle(queue)
    clock.advance(3600)
    queue.advance()
    assert status(queue, record) == "IN_QUEUE", "time alone never moves a manual request"
    assert status(queue, other) == "COMPLETED", "a held request does not block the queue"
    queue.step(record.request_id)
    started = queue.get(record.request_id)
    assert started is not None and started.status == "IN_PROGRESS"
    assert started.started_at == clock.now()
    clock.advance(3600)
    queue.advance()
    assert status(queue, record) == "IN_PROGRESS"
    queue.step(record.request_id)
    done = queue.get(record.request_id)
    assert done is not None and done.status == "COMPLETED" and done.outcome == "ok"


async def test_step_hurries_a_timed_request(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce)
    record = queue.submit(T2V, {"prompt": "hurry"})
    await settle(queue)
    queue.step(record.request_id)
    assert status(queue, record) == "IN_PROGRESS", "started before its 1 s queue time"
    queue.step(record.request_id)
    assert status(queue, record) == "COMPLETED", "finished before its 10 s run time"


async def test_polls_progression(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce, progression="polls:3")
    record = queue.submit(T2V, {"prompt": "poll"})
    await settle(queue)
    seen = []
    for _ in range(7):
        current = queue.get(record.request_id)
        assert current is not None
        seen.append(current.status)
        queue.note_poll(current)
    assert seen == ["IN_QUEUE"] * 3 + ["IN_PROGRESS"] * 3 + ["COMPLETED"]


async def test_immediate_skips_queue_and_run_time(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce, progression="immediate")
    record = queue.submit(T2V, {"prompt": "now"})
    await settle(queue)
    done = queue.get(record.request_id)
    assert done is not None and done.status == "COMPLETED"
    assert done.completed_at == clock.now()


async def test_start_deadline_fails_queued_requests_only(store: RequestStore) -> None:
    clock = ManualClock()
    profile = TimingProfile(
        "one", queue_seconds=0, run_seconds_base=10, run_seconds_per_unit=0, capacity=1
    )
    queue = RequestQueue(store, clock, profile, produce)
    first = queue.submit(T2V, {"prompt": "runs"}, headers={"x-fal-request-timeout": "5"})
    waiting = queue.submit(T2V, {"prompt": "waits"}, headers={"x-fal-request-timeout": "5.0"})
    await settle(queue)
    assert status(queue, first) == "IN_PROGRESS"
    clock.advance(4.99)
    queue.advance()
    assert status(queue, waiting) == "IN_QUEUE"
    clock.advance(0.01)
    queue.advance()
    expired = queue.get(waiting.request_id)
    assert expired is not None and expired.status == "COMPLETED" and expired.outcome == "error"
    assert expired.error is not None and expired.error["status_code"] == 504
    assert expired.error["headers"] == {"x-fal-request-timeout-type": "user"}
    assert expired.completed_at == waiting.submitted_at + 5
    clock.advance(60)
    queue.advance()
    ran = queue.get(first.request_id)
    assert ran is not None and ran.outcome == "ok", "the deadline stops once a request starts"


async def test_start_exactly_at_the_deadline_wins(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce)
    record = queue.submit(T2V, {"prompt": "just in time"}, headers={"x-fal-request-timeout": "1"})
    await settle(queue)
    clock.advance(1.0)
    queue.advance()
    assert status(queue, record) == "IN_PROGRESS"


async def test_slow_queue_plan_holds_and_reports_its_position(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce)
    plan = RequestPlan(scenario="slow", hold_seconds=30, hold_position=4)
    record = queue.submit(T2V, {"prompt": "stuck"}, plan=plan)
    await settle(queue)
    clock.advance(30)
    queue.advance()
    current = queue.get(record.request_id)
    assert current is not None and current.status == "IN_QUEUE"
    assert queue.position(current) == 4
    clock.advance(1)
    queue.advance()
    assert status(queue, record) == "IN_PROGRESS"


async def test_plan_logs_are_placed_in_the_run(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, produce)
    logs = (
        {"message": "late", "at": 0.9},
        {"message": "early", "at": 0.1},
    )
    record = queue.submit(T2V, {"prompt": "chatty"}, plan=RequestPlan(scenario="s", logs=logs))
    await settle(queue)
    clock.advance(1)
    queue.advance()
    running = queue.get(record.request_id)
    assert running is not None
    messages = [line["message"] for line in running.logs]
    assert messages.index("early") < messages.index("Generating video: 25%")
    assert messages.index("Generating video: 75%") < messages.index("late")
    late = next(line for line in running.logs if line["message"] == "late")
    assert late["at"] == running.started_at + 9
    assert "late" not in [line["message"] for line in running.visible_logs(clock.now())]


def test_header_and_progression_checks() -> None:
    assert start_timeout({}) is None
    assert start_timeout({"x-fal-request-timeout": "30.0"}) == 30.0
    both = {"x-fal-request-timeout": "30", "x-fal-request-start-timeout": "7"}
    assert start_timeout(both) == 7.0
    for bad in ("soon", "0.1", "-3", "nan", "inf"):
        with pytest.raises(ValueError, match="X-Fal-Request-Timeout|x-fal-request-timeout"):
            start_timeout({"x-fal-request-timeout": bad})
    for good in ("timed", "immediate", "manual", "polls:1", "polls:12"):
        assert check_progression(good) == good
    for bad in ("polls", "polls:0", "fast", "Manual"):
        with pytest.raises(ValueError, match="unknown progression"):
            check_progression(bad)
