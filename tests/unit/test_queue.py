"""The state machine on a frozen clock: every transition happens because time was moved."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from mockserver.clock import ManualClock
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.queue import Production, RequestQueue, Schedule, new_request_id
from mockserver.records import RequestRecord
from mockserver.stores import RequestStore, SqliteStore
from mockserver.timing import TimingProfile
from tests.unit.conftest import settle

T2V = "fal-ai/luma-dream-machine/ray-2"
PROFILE = TimingProfile(
    "test", queue_seconds=1.0, run_seconds_base=10.0, run_seconds_per_unit=5.0, capacity=2
)


class Producer:
    """Stands in for the renderer: finishes when the test releases it."""

    def __init__(self, *, instant: bool = True) -> None:
        self.release = asyncio.Event()
        if instant:
            self.release.set()
        self.calls: list[str] = []

    async def __call__(self, record: RequestRecord) -> Production:
        self.calls.append(record.request_id)
        await self.release.wait()
        return Production(
            media={
                "key": "k",
                "file_name": "output.mp4",
                "file_size": 1,
                "content_type": "video/mp4",
            },
            notes=("rendered",),
        )


async def test_lifecycle_moves_only_with_the_clock(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, Producer())
    record = queue.submit(T2V, {"prompt": "a fox"})
    await settle(queue)
    assert queue.get(record.request_id).status == "IN_QUEUE"
    clock.advance(1.0)
    queue.advance()
    running = queue.get(record.request_id)
    assert running.status == "IN_PROGRESS"
    assert running.started_at == clock.now()
    visible = running.visible_logs(clock.now())
    assert [line["message"] for line in visible] == ["Starting generation: 540p, 16:9, 5s"]
    # fal's log entry shape (live captures): no level or source, a naive timestamp
    assert set(visible[0]) - {"at"} == {"timestamp", "message", "labels"}
    assert "rendered" not in str(running.logs)  # the emulator's notes are not model logs
    clock.advance(9.99)
    queue.advance()
    assert queue.get(record.request_id).status == "IN_PROGRESS"
    clock.advance(0.01)
    queue.advance()
    done = queue.get(record.request_id)
    assert done.status == "COMPLETED" and done.outcome == "ok"
    assert done.completed_at - done.started_at == pytest.approx(10.0)
    assert done.media["key"] == "k"
    assert done.notes == ["rendered"]
    assert done.logs[-1]["message"] == "Video generated"


async def test_run_time_grows_with_cost_units(store: RequestStore) -> None:
    queue = RequestQueue(store, ManualClock(), PROFILE, Producer())
    big = queue.submit(T2V, {"prompt": "x prompt", "resolution": "1080p", "duration": "9s"})
    assert big.cost_units == 8
    assert big.run_seconds == 10.0 + 5.0 * 7


async def test_capacity_queues_with_real_positions(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, Producer())
    ids = [queue.submit(T2V, {"prompt": f"p prompt {i}"}).request_id for i in range(5)]
    await settle(queue)
    assert [queue.position(queue.get(i)) for i in ids] == [0, 1, 2, 3, 4]
    clock.advance(1.0)
    queue.advance()
    statuses = [queue.get(i).status for i in ids]
    assert statuses == ["IN_PROGRESS"] * 2 + ["IN_QUEUE"] * 3
    assert [queue.position(queue.get(i)) for i in ids[2:]] == [0, 1, 2]
    # One jump over three run times replays every start and finish in order.
    clock.advance(30.0)
    queue.advance()
    records = [queue.get(i) for i in ids]
    assert all(r.status == "COMPLETED" for r in records)
    starts = [r.started_at for r in records]
    assert starts == sorted(starts)
    assert records[2].started_at == pytest.approx(records[0].completed_at)
    assert records[4].started_at == pytest.approx(records[2].completed_at)


async def test_low_priority_waits_behind_normal(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, Producer())
    low = queue.submit(T2V, {"prompt": "low"}, priority="low")
    normal = queue.submit(T2V, {"prompt": "normal"})
    assert queue.position(queue.get(normal.request_id)) == 0
    assert queue.position(queue.get(low.request_id)) == 1


async def test_completion_waits_for_the_output(store: RequestStore) -> None:
    clock = ManualClock()
    producer = Producer(instant=False)
    queue = RequestQueue(store, clock, PROFILE, producer)
    record = queue.submit(T2V, {"prompt": "slow render"})
    clock.advance(60.0)
    await settle(queue)
    assert queue.get(record.request_id).status == "IN_PROGRESS"
    producer.release.set()
    await settle(queue)
    assert queue.get(record.request_id).status == "COMPLETED"


async def test_cancel_semantics(store: RequestStore) -> None:
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, Producer())
    queued = queue.submit(T2V, {"prompt": "q prompt"})
    assert queue.cancel(queued.request_id) == "CANCELLATION_REQUESTED"
    cancelled = queue.get(queued.request_id)
    assert cancelled.status == "COMPLETED" and cancelled.outcome == "cancelled"
    # removed from the queue by the gateway: fal's client_cancelled request error (499)
    assert cancelled.error["status_code"] == 499 and cancelled.gateway_error
    assert cancelled.error_type == "client_cancelled"
    assert queue.cancel(queued.request_id) == "ALREADY_COMPLETED"
    assert queue.cancel("nope") == "NOT_FOUND"

    running = queue.submit(T2V, {"prompt": "r prompt"})
    clock.advance(1.0)
    await settle(queue)
    assert queue.get(running.request_id).status == "IN_PROGRESS"
    assert queue.cancel(running.request_id) == "CANCELLATION_REQUESTED"
    queue.advance()
    stopped = queue.get(running.request_id)
    assert stopped.outcome == "cancelled"
    # the app answers 499 itself: its body, no status error (fal's e2e test_app_cancellation)
    assert stopped.error == {
        "status_code": 499,
        "body": {"detail": "Request cancelled by the client."},
    }
    assert not stopped.gateway_error


async def test_sqlite_restart_resumes_unfinished(tmp_path) -> None:
    clock = ManualClock()
    path = tmp_path / "q.sqlite3"
    first = RequestQueue(SqliteStore(path), clock, PROFILE, Producer(instant=False))
    accepted = [first.submit(T2V, {"prompt": f"p prompt {i}"}).request_id for i in range(3)]
    clock.advance(1.0)
    first.advance()
    await first.stop()
    first.store.close()

    producer = Producer()
    second = RequestQueue(SqliteStore(path), clock, PROFILE, producer)
    await second.start()
    try:
        await settle(second)
        assert sorted(producer.calls) == sorted(accepted)
        clock.advance(100.0)
        await settle(second)
        assert all(second.get(i).status == "COMPLETED" for i in accepted)
    finally:
        await second.stop()


class ReadyProducer(Producer):
    """A producer whose output exists already (a cached render): ``ready`` gives it at once."""

    def ready(self, record: RequestRecord) -> Production | None:
        self.calls.append(record.request_id)
        return Production(
            media={"key": "k", "file_name": "output.mp4", "file_size": 1},
            notes=("reused",),
        )


async def test_an_output_made_already_completes_without_a_task(store: RequestStore) -> None:
    """The structural step of issue 27: no task per request, and the replay that starts the
    request finishes it too; the record is the one the task path would have written."""
    clock = ManualClock()
    timing = dataclasses.replace(PROFILE, run_seconds_base=0.0, run_seconds_per_unit=0.0)
    results = {}
    for producer in (Producer(), ReadyProducer()):
        queue = RequestQueue(store, clock, timing, producer)
        record = queue.submit(T2V, {"prompt": "a fox"})
        if isinstance(producer, ReadyProducer):
            assert not queue._producing and record.request_id in queue._ready
        else:
            await settle(queue)
        clock.advance(1.0)
        assert queue.advance() is None
        done = queue.get(record.request_id)
        assert done.status == "COMPLETED" and done.outcome == "ok"
        results[type(producer)] = done
    task, at_once = results[Producer], results[ReadyProducer]
    assert [line["message"] for line in at_once.logs] == [line["message"] for line in task.logs]
    assert at_once.completed_at == at_once.started_at == at_once.eligible_at
    assert at_once.notes == ["reused"]


def test_request_ids_are_uuid7_in_submission_order() -> None:
    """fal's 2026 request ids are UUIDv7 (a live run shows 019fd06e-1bb1-71d1-...)."""
    ids = [new_request_id() for _ in range(50)]
    parsed = [uuid.UUID(i) for i in ids]
    assert [str(u) for u in parsed] == ids  # the canonical lower-case 8-4-4-4-12 form
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == 50
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)


def plain(request_id: str, seq: int, **fields: object) -> RequestRecord:
    base = dict(
        request_id=request_id,
        endpoint_id=T2V,
        input={"prompt": "plain record"},
        submitted_at=0.0,
        eligible_at=0.0,
        run_seconds=10.0,
        seq=seq,
    )
    return RequestRecord(**{**base, **fields})


def test_the_schedule_orders_transitions_without_a_queue() -> None:
    """Schedule is the state machine's order of events, driven here by hand: one slot, a
    running request due at 10, two queued (one due to start at 2, one with a deadline at 5)."""
    running = plain("run", 1, status="IN_PROGRESS", started_at=0.0, due_at=10.0)
    waiting = plain("wait", 2, eligible_at=2.0)
    deadline = plain("deadline", 3, eligible_at=2.0, start_deadline=5.0)
    schedule = Schedule(
        [deadline, waiting, running],
        capacity=1,
        start_time=lambda r: r.eligible_at,
        completion_time=lambda r: r.due_at,
    )
    first = schedule.next_event()
    assert (first.kind, first.at, first.record) == ("expire", 5.0, deadline)  # no free slot
    deadline.status = "COMPLETED"
    schedule.applied(first)
    finish = schedule.next_event()
    assert (finish.kind, finish.at, finish.record) == ("finish", 10.0, running)
    running.status = "COMPLETED"
    schedule.applied(finish)
    start = schedule.next_event()  # the freed slot goes to the oldest queued request
    assert (start.kind, start.at, start.record) == ("start", 10.0, waiting)
    waiting.status = "IN_PROGRESS"
    schedule.started(start, 20.0)
    schedule.applied(start)
    last = schedule.next_event()
    assert (last.kind, last.at, last.record) == ("finish", 20.0, waiting)
    waiting.status = "COMPLETED"
    schedule.applied(last)
    assert schedule.next_event() is None


def test_a_finish_frees_its_slot_before_a_start_at_the_same_instant() -> None:
    running = plain("run", 1, status="IN_PROGRESS", started_at=0.0, due_at=3.0)
    queued = plain("queued", 2, eligible_at=3.0)
    schedule = Schedule([queued, running], 1, lambda r: r.eligible_at, lambda r: r.due_at)
    assert schedule.next_event().kind == "finish"


async def test_arguments_are_worked_out_once_at_submit(store: RequestStore) -> None:
    """The model's view of the input (coerced, defaults filled) is kept on the record from the
    submit on: the start log, the renderer and the dashboard read it instead of validating the
    body again. An invalid input keeps none; a record stored before the field existed falls
    back to validating its input."""
    clock = ManualClock()
    queue = RequestQueue(store, clock, PROFILE, Producer())
    record = queue.submit(T2V, {"prompt": "a fox", "loop": "yes", "resolution": "720p"})
    kept = queue.get(record.request_id).arguments
    assert kept is not None
    assert kept["loop"] is True  # pydantic's lax bool, as the app sees it
    assert (kept["resolution"], kept["aspect_ratio"], kept["duration"]) == ("720p", "16:9", "5s")
    invalid = queue.submit(T2V, {"prompt": "a fox", "aspect_ratio": "1:1"})
    assert queue.get(invalid.request_id).arguments is None
    assert queue.get(invalid.request_id).rejection

    await settle(queue)
    clock.advance(1.0)
    queue.advance()
    first = queue.get(record.request_id).logs[0]["message"]
    assert first == "Starting generation: 720p, 16:9, 5s"

    endpoint = ENDPOINTS[T2V]
    legacy = dataclasses.replace(record, input={"prompt": "a", "duration": "9s"}, arguments=None)
    started = endpoint.start_log(endpoint.arguments_of(legacy))
    assert started == "Starting generation: 540p, 16:9, 9s"
