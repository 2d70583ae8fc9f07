"""The request state machine: IN_QUEUE -> IN_PROGRESS -> COMPLETED (ok, error or cancelled).

Time comes from an injectable clock, so tests move it instead of sleeping. A request
becomes eligible ``queue_seconds`` after submission, starts when one of ``capacity`` slots
is free (queue order: priority, then submission), runs for its profile's run time and
completes once that time has passed *and* its output exists. ``advance`` replays every
transition due up to now in time order, so jumping the clock an hour ahead produces the
same history as living through that hour. A background driver calls it whenever a
transition falls due, a request arrives, an output is ready or the clock jumps.

Progression (per request, default from the config): ``timed`` follows the profile,
``immediate`` skips the queue and run times, ``manual`` moves one state per ``step`` (control
API ``POST /_mock/requests/{id}/advance``) and ``polls:N`` one state per N status polls.
``X-Fal-Request-Timeout`` is fal's time-to-start deadline: a request still queued when it
passes completes with fal's 504 ``request_timeout`` (``X-Fal-Request-Timeout-Type: user``).
An attempt that fails the way fal retries (``retries.py``) goes back IN_QUEUE as a new
attempt with its own gateway request id, up to fal's 10 attempts and within that deadline.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from mockserver.clock import Clock
from mockserver.fal.catalogue import fal_error
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.ids import new_request_id
from mockserver.fal.validation import Validation
from mockserver.records import RequestPlan, RequestRecord
from mockserver.retries import MAX_ATTEMPTS, retried, retries_wanted
from mockserver.stores import RequestStore
from mockserver.timing import TimingProfile

log = logging.getLogger(__name__)

CancelOutcome = Literal["CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND"]

# When the emulated model prints while it works, as fractions of its run time: its first line
# (the row's ``start_log``, formatted with its input), then its progress lines (the row's
# ``progress_log``), and its ``finished_log`` once the output exists. [inferred: no captured
# Ray 2 log line exists; the rows' lines read like a video model's progress.]
PROGRESS_POINTS: tuple[float, ...] = (0.25, 0.5, 0.75)
START_TIMEOUT_ERROR = {
    "status_code": 504,
    "error_type": "request_timeout",
    "body": {"detail": "Request timed out", "error_type": "request_timeout"},
    "headers": {"x-fal-request-timeout-type": "user"},
}
CANCEL_MESSAGE = "Request cancelled by the client."
"""fal's ``RequestCancelledException`` text (``fal/exceptions/_base.py``)."""
REMOVED_FROM_QUEUE = {
    "status_code": 499,
    "error_type": "client_cancelled",
    "body": {"detail": CANCEL_MESSAGE, "error_type": "client_cancelled"},
}
"""A queued request cancelled before it ran: the gateway's request error (fal's docs list
``client_cancelled`` as 499). [inferred: no capture of the result after such a cancel]"""
CANCELLED_WHILE_RUNNING = {"status_code": 499, "body": {"detail": CANCEL_MESSAGE}}
"""A running request cancelled: the app answers 499 (fal's e2e ``test_app_cancellation``)."""


def rejected(detail: list[dict[str, Any]]) -> dict[str, Any]:
    """The app's 422 for input it rejects: FastAPI's body, fal's ``x-fal-billable-units: 0``."""
    return {
        "status_code": 422,
        "body": {"detail": detail},
        "headers": {"x-fal-billable-units": "0"},
    }


PROGRESSIONS = re.compile(r"^(timed|immediate|manual|polls:[1-9][0-9]*)$")
START_TIMEOUT_HEADERS = ("x-fal-request-start-timeout", "x-fal-request-timeout")
"""The newer name wins when a client sends both (fal's docs)."""
MIN_START_TIMEOUT = 0.1
RETRY_AFTER_FAILURE = 0.5
"""Emulated seconds before the driver tries again after a failed replay (a store that went
away: Redis restarting)."""
WRITE_ATTEMPTS = 16
"""Tries of a read-decide-write on one record before giving up (workers race for it)."""
T = TypeVar("T")


def check_progression(value: str) -> str:
    if not PROGRESSIONS.match(value):
        raise ValueError(
            f"unknown progression {value!r}: use timed, immediate, manual or polls:N (N >= 1)"
        )
    return value


def start_timeout(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``X-Fal-Request(-Start)-Timeout``; ValueError names a malformed value."""
    for name in START_TIMEOUT_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= MIN_START_TIMEOUT:
            raise ValueError(
                f"Invalid {name} header {raw!r}: expected a number of seconds"
                f" greater than {MIN_START_TIMEOUT}"
            )
        return seconds
    return None


@dataclass(frozen=True)
class Production:
    """What the model produced for a request: media on success, an error otherwise."""

    media: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    """The emulator's own remarks (cache hit, placeholder image): server log, journal and
    dashboard only, never the model's logs a client reads."""
    units: int | None = None
    """What the generation bills, once known only from its inputs (a per-second price reads
    the input video's duration); None keeps the units worked out at submit."""


class Producer(Protocol):
    def __call__(self, record: RequestRecord) -> Awaitable[Production]: ...


def produced_at_once(producer: Producer, record: RequestRecord) -> Production | None:
    """The producer's output without a coroutine, when it has one already (a cached render):
    its optional ``ready(record)`` method. None: the output takes ``producer(record)``."""
    ready: Callable[[RequestRecord], Production | None] | None = getattr(producer, "ready", None)
    return None if ready is None else ready(record)


def log_line(at: float, message: str) -> dict[str, Any]:
    """One log entry as fal's gateway returns it: ``timestamp`` (naive UTC, microseconds),
    ``message`` and ``labels``; ``at`` (emulated epoch seconds, never sent) decides when it
    becomes visible."""
    stamp = _STAMPS.get(at)
    if stamp is None:
        if len(_STAMPS) >= STAMPS_KEPT:
            _STAMPS.clear()
        naive = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
        stamp = _STAMPS[at] = naive.isoformat(timespec="microseconds")
    return {"timestamp": stamp, "message": message, "labels": {}, "at": at}


STAMPS_KEPT = 256
_STAMPS: dict[float, str] = {}
"""Formatted timestamps by time: a request's lines mostly share a few instants (all of them
when it runs for no time), and formatting one costs more than the rest of its line."""


EventKind = Literal["finish", "start", "expire"]
EVENT_ORDER: dict[EventKind, int] = {"finish": 0, "start": 1, "expire": 2}
"""On a tie a finish frees its slot before a start takes it, and a start beats a deadline."""


class Event(NamedTuple):
    """One transition due: a tuple, as a replay builds a few per request (a frozen dataclass
    costs several times more to make)."""

    at: float
    kind: EventKind
    record: RequestRecord


class Schedule:
    """The order of one replay's transitions: a pure next-event / applied pair.

    Built from the active records, ``next_event`` names the earliest transition due (a running
    request finishing, a queued one starting in a free slot, a start deadline passing); the
    queue applies it to the record and reports back (``started`` with the new completion time,
    then ``applied``). It never reads a clock or a store, so a unit test drives it with plain
    records. n transitions cost n log n: finish times and deadlines sit in heaps, the startable
    queue is a deque, and records that left the queue are dropped lazily at the top.
    """

    def __init__(
        self,
        active: Iterable[RequestRecord],
        capacity: int,
        start_time: Callable[[RequestRecord], float | None],
        completion_time: Callable[[RequestRecord], float | None],
    ) -> None:
        records = sorted(active, key=lambda r: r.queue_key)
        running = [r for r in records if r.status == "IN_PROGRESS"]
        queued = [r for r in records if r.status == "IN_QUEUE"]
        self._start_time = start_time
        self._startable = collections.deque(r for r in queued if start_time(r) is not None)
        self._finishing = [
            (t, i, r) for i, r in enumerate(running) if (t := completion_time(r)) is not None
        ]
        self._expiring = [
            (r.start_deadline, i, r) for i, r in enumerate(queued) if r.start_deadline is not None
        ]
        heapq.heapify(self._finishing)
        heapq.heapify(self._expiring)
        self._order = len(running)
        self._idle_slots = max(capacity - len(running), 0)
        self._freed: list[float] = []  # times at which slots freed up during this replay

    def next_event(self) -> Event | None:
        while self._startable and self._startable[0].status != "IN_QUEUE":
            self._startable.popleft()
        while self._expiring and self._expiring[0][2].status != "IN_QUEUE":
            heapq.heappop(self._expiring)
        candidates: list[Event] = []
        if self._finishing:
            at, _, record = self._finishing[0]
            candidates.append(Event(at, "finish", record))
        if self._startable and (self._idle_slots or self._freed):
            head = self._startable[0]
            slot_time = float("-inf") if self._idle_slots else self._freed[0]
            candidates.append(Event(max(self._start_time(head) or 0.0, slot_time), "start", head))
        if self._expiring:
            at, _, record = self._expiring[0]
            candidates.append(Event(at, "expire", record))
        return min(candidates, key=lambda e: (e.at, EVENT_ORDER[e.kind]), default=None)

    def started(self, event: Event, completes_at: float | None) -> None:
        """The queue started ``event.record``; it finishes at ``completes_at`` (None: unknown
        yet, its output is still being made)."""
        if completes_at is not None:
            heapq.heappush(self._finishing, (completes_at, self._order, event.record))
            self._order += 1

    def applied(self, event: Event) -> None:
        if event.kind == "finish":
            heapq.heappop(self._finishing)
            heapq.heappush(self._freed, event.at)
        elif event.kind == "start":
            self._startable.popleft()
            if self._idle_slots:
                self._idle_slots -= 1
            else:
                heapq.heappop(self._freed)
        else:
            heapq.heappop(self._expiring)


class RequestQueue:
    def __init__(
        self,
        store: RequestStore,
        clock: Clock,
        timing: TimingProfile,
        producer: Producer,
        progression: str = "timed",
        *,
        resume: bool = True,
        told_of_changes: bool = False,
    ) -> None:
        self.store = store
        self.told_of_changes = told_of_changes
        """Whether the process that drives a request hears every change another process
        writes (replicas on Redis: ``refresh``). If not (workers sharing SQLite), a process
        that writes a request (a step, a poll, a cancel) drives it from then on too."""
        self.clock = clock
        self.timing = timing
        self.progression = check_progression(progression)
        self._producer = producer
        self._ready: dict[str, tuple[Production, float]] = {}
        self._producing: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._watchers = 0
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self.completion_listeners: list[Callable[[RequestRecord], None]] = []
        # Unfinished records this queue drives, kept in memory so a transition costs no read;
        # a failed optimistic save (another worker wrote first) refreshes the entry. Replicas
        # on Redis resume nothing here: each adopts what a gone replica left (``adopt``).
        self._active: dict[str, RequestRecord] = (
            {r.request_id: r for r in store.unfinished()} if resume else {}
        )
        self._unsure: set[str] = set()
        clock.on_advance(self.kick)

    # -- lifecycle of the queue itself ------------------------------------------------------

    async def start(self) -> None:
        """Resume every unfinished request (after a restart) and start the driver."""
        for record in list(self._active.values()):
            self._produce(record)
        self._driver = asyncio.create_task(self._drive(), name="ray2-mock queue driver")

    async def stop(self) -> None:
        tasks = [t for t in (self._driver, *self._producing.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._driver = None
        self._producing.clear()

    def reset(self) -> None:
        """Forget every request (control API ``POST /_mock/reset``); the driver keeps running."""
        self.forget_local()
        self.store.clear()

    def forget_local(self) -> None:
        """Drop what this process holds of every request (another replica reset the store)."""
        for task in self._producing.values():
            task.cancel()
        self._producing.clear()
        self._ready.clear()
        self._active.clear()
        self._unsure.clear()
        self._notify()

    # -- replicas sharing one store (``shared/replicas.py``) -----------------------------------

    def adopt(self, record: RequestRecord) -> None:
        """Drive an unfinished request another process accepted (its replica is gone)."""
        if record.status == "COMPLETED":
            return
        self._active[record.request_id] = record
        self._produce(record)
        self.kick()

    def refresh(self, request_id: str) -> None:
        """Another process changed this request (a cancel, a step, a transition): read it again
        if this queue drives it, and wake whoever watches for changes (status streams)."""
        if request_id in self._active:
            current = self.store.get(request_id)
            if current is None or current.status == "COMPLETED":
                self._active.pop(request_id, None)
                self._ready.pop(request_id, None)
                task = self._producing.pop(request_id, None)
                if task is not None:
                    task.cancel()
            else:
                self._active[request_id] = current
            self.kick()
        self._notify()

    def drives(self, request_id: str) -> bool:
        """Whether this process moves the request (else another replica does)."""
        return request_id in self._active

    def refresh_all(self) -> None:
        """Read every driven request again (events may have been missed while away)."""
        for request_id in list(self._active):
            self.refresh(request_id)

    def kick(self) -> None:
        """Ask the driver to re-evaluate now."""
        self._wake.set()

    async def wait_changed(self, timeout: float | None) -> None:
        """Return when any request changes (or after ``timeout`` seconds)."""
        changed = self._changed
        self._watchers += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)
        finally:
            self._watchers -= 1

    def _notify(self) -> None:
        """Wake every ``wait_changed``; a no-op when none waits (most submits under load)."""
        if self._watchers:
            self._changed.set()
            self._changed = asyncio.Event()

    async def _drive(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_due = self.advance()
            except Exception:  # keep serving: a bad record must not stop every other one
                log.exception("queue advance failed")
                next_due = self.clock.now() + RETRY_AFTER_FAILURE  # the store may be back then
            delay = None if next_due is None else self.clock.real_delay(next_due - self.clock.now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    # -- requests -----------------------------------------------------------------------------

    def submit(
        self,
        endpoint_id: str,
        payload: Any,
        *,
        validation: Validation | None = None,
        mode: Literal["queue", "sync"] = "queue",
        priority: str = "normal",
        webhook_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        plan: RequestPlan | None = None,
        notes: Iterable[str] = (),
    ) -> RequestRecord:
        endpoint = ENDPOINTS[endpoint_id]
        validation = validation or endpoint.validate(payload)
        units = endpoint.cost_units(validation)  # 0 for a per-second price until its video is read
        now = self.clock.now()
        plan = plan or RequestPlan()
        progression = check_progression(plan.progression or self.progression)
        timeout = start_timeout(headers or {})
        record = RequestRecord(
            request_id=new_request_id(),
            endpoint_id=endpoint_id,
            input=payload,
            submitted_at=now,
            eligible_at=now + self.timing.queue_seconds,
            run_seconds=(
                self.timing.run_seconds(max(units, 1), endpoint.facts.timing)
                if validation.ok
                else self.timing.reject_seconds
            ),
            mode=mode,
            priority=priority if priority in ("normal", "low") else "normal",
            webhook_url=webhook_url,
            origin=origin,
            headers=dict(headers or {}),
            cost_units=units,
            progression=progression,
            start_deadline=None if timeout is None else now + timeout,
            held_position=plan.hold_position,
            extra_logs=[dict(line) for line in plan.logs],
            scenario=_scenario_of(plan),
            rejection=validation.errors or None,
            arguments=validation.arguments,
            notes=list(notes),
        )
        if progression == "immediate":
            record.eligible_at, record.run_seconds = now, 0.0
        record.eligible_at += plan.hold_seconds
        self.store.add(record)
        self._active[record.request_id] = record
        self._produce(record)
        self.kick()
        self._notify()
        return record

    async def durable(self) -> None:
        """Return once every request accepted so far is on disk (``RequestStore.durable``)."""
        await self.store.durable()

    def get(self, request_id: str) -> RequestRecord | None:
        """The request as stored, for reading only (``RequestStore.view``: no copy)."""
        return self.store.view(request_id)

    def slots_taken(self) -> int:
        """Slots the account's requests hold now: running ones, and sync runs accepted but not
        started (fal dispatches a run at once). Queued requests hold none: at fal they wait
        for a slot, and only running ones count against the concurrency limit. Counted over
        the requests this process drives, as its capacity is (``serve --workers N``)."""
        self.advance()
        return sum(r.status == "IN_PROGRESS" or r.mode == "sync" for r in self._active.values())

    @property
    def slots(self) -> int:
        """The account's concurrency limit: the timing profile's capacity."""
        return self.timing.capacity

    def waiting(self, endpoint_id: str) -> int:
        """Queued requests of one endpoint still waiting for a slot (every caller's)."""
        self.advance()
        return sum(
            r.status == "IN_QUEUE" and r.mode == "queue" and r.endpoint_id == endpoint_id
            for r in self._active.values()
        )

    def position(self, record: RequestRecord) -> int:
        position = self.store.position(record)
        if record.held_position is not None and self.clock.now() < record.eligible_at:
            return max(position, record.held_position)  # a slow-queue scenario's stuck number
        return position

    def step(self, request_id: str) -> RequestRecord | None:
        """Let a request take its next transition now (a manual step, or the Nth poll)."""

        def open_next_gate(record: RequestRecord | None) -> tuple[bool, None]:
            if record is None or record.status == "COMPLETED":
                return True, None
            now = self.clock.now()
            if record.status == "IN_QUEUE" and record.start_gate is None:
                record.start_gate = now
            elif record.finish_gate is None:
                record.finish_gate = now
            else:
                return True, None
            return self._save(record), None

        self._rewrite(request_id, open_next_gate)
        self.advance()
        self.kick()
        return self.store.get(request_id)

    def note_poll(self, record: RequestRecord) -> None:
        """Count a status poll; ``polls:N`` requests move one state every N polls."""
        if not record.progression.startswith("polls:") or record.status == "COMPLETED":
            return
        every = int(record.progression.partition(":")[2])
        current = self.store.get(record.request_id)
        if current is None:
            return
        current.polls += 1
        if not self._save(current):
            return
        if current.polls % every == 0:
            self.step(current.request_id)

    def cancel(self, request_id: str) -> CancelOutcome:
        """Remove a queued request, or signal a running one (it ends at its next transition).

        Both answer CANCELLATION_REQUESTED (fal's docs; clients only check for a 2xx)."""

        def request_cancel(record: RequestRecord | None) -> tuple[bool, CancelOutcome]:
            if record is None:
                return True, "NOT_FOUND"
            if record.status == "COMPLETED":
                return True, "ALREADY_COMPLETED"
            now = self.clock.now()
            record.cancel_requested_at = now
            if record.status == "IN_QUEUE":
                removed = Production(error=REMOVED_FROM_QUEUE)
                return self._complete(record, now, removed, "cancelled"), "CANCELLATION_REQUESTED"
            if self._save(record):
                self.kick()
                return True, "CANCELLATION_REQUESTED"
            return False, "CANCELLATION_REQUESTED"

        return self._rewrite(request_id, request_cancel)

    def _rewrite(
        self, request_id: str, change: Callable[[RequestRecord | None], tuple[bool, T]]
    ) -> T:
        """Read a record, decide, write; ``change`` says whether its write landed. Another
        writer (a worker process sharing the SQLite store) may move the record between our
        read and our write: then the decision is made again on a fresh read, a bounded number
        of times."""
        for _ in range(WRITE_ATTEMPTS):
            landed, result = change(self.store.get(request_id))
            if landed:
                return result
        raise RuntimeError(f"request {request_id} kept changing under {WRITE_ATTEMPTS} writes")

    def _save(self, record: RequestRecord) -> bool:
        """Write through to the store and keep the in-memory view of active records true.

        A write another writer beat takes the stored record instead, and the driver replays
        with it (this replay's schedule holds the old one). A write that failed (the store
        went away) leaves the record unknown here until the next replay reads it again."""
        try:
            saved = self.store.save(record)
        except Exception:
            self._active.pop(record.request_id, None)
            self._unsure.add(record.request_id)
            raise
        current = record if saved else self.store.get(record.request_id)
        if current is None or current.status == "COMPLETED":
            self._active.pop(record.request_id, None)
        elif not self.told_of_changes or record.request_id in self._active:
            self._active[record.request_id] = current
        if not saved:
            self.kick()
        return saved

    def _reread_unsure(self) -> None:
        """Read again the records whose last write failed: it may or may not have landed."""
        for request_id in list(self._unsure):
            current = self.store.get(request_id)
            self._unsure.discard(request_id)
            if current is not None and current.status != "COMPLETED":
                self._active[request_id] = current

    # -- production (rendering) ---------------------------------------------------------------

    def _produce(self, record: RequestRecord) -> None:
        """Have the record's output made. One that exists already (a rejected input's 422, a
        scenario's error, a cached render) is ready at once: no task, and the replay that
        starts the request finishes it too."""
        if record.request_id in self._producing or record.request_id in self._ready:
            return
        if record.rejection is not None:  # the app validates before the model runs
            self._ready[record.request_id] = (Production(error=rejected(record.rejection)), 0.0)
            return
        try:
            production = produced_at_once(self._producer, record)
        except Exception:  # the task below makes the same attempt and reports its failure
            log.debug("producing %s at once failed", record.request_id, exc_info=True)
            production = None
        if production is not None:
            self._ready[record.request_id] = (production, self.clock.now())
            return
        task = asyncio.create_task(self._run_producer(record), name=f"produce {record.request_id}")
        self._producing[record.request_id] = task

    async def _run_producer(self, record: RequestRecord) -> None:
        try:
            production = await self._producer(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an emulated model failure, never a server crash
            log.exception("producing %s failed", record.request_id)
            failure = f"Video generation failed: {exc}"
            production = Production(
                error=fal_error("internal_server_error", message=failure, payload=record.input)
            )
        self._ready[record.request_id] = (production, self.clock.now())
        self._producing.pop(record.request_id, None)
        self.kick()

    # -- the state machine --------------------------------------------------------------------

    @staticmethod
    def _start_time(record: RequestRecord) -> float | None:
        """When a queued request may start: its gate if stepped, else its eligible time."""
        if record.gated:
            return record.start_gate
        if record.start_gate is not None:
            return min(record.start_gate, record.eligible_at)
        return record.eligible_at

    def _completion_time(self, record: RequestRecord) -> float | None:
        if record.cancel_requested_at is not None:
            return record.cancel_requested_at
        ready = self._ready.get(record.request_id)
        due = record.due_at
        if record.gated:
            due = record.finish_gate
        elif record.finish_gate is not None and due is not None:
            due = min(due, record.finish_gate)
        if ready is None or due is None:
            return None
        return max(due, ready[1])

    def advance(self) -> float | None:
        """Apply every transition due by now, in time order; return the next due time.

        A replay of n transitions costs n log n, not n^2: finish times and start deadlines sit
        in heaps, and the startable queue is a deque. Both only change here, so they are built
        once per call; records that left the queue are dropped lazily when they reach the top.
        """
        if not self._active and not self._unsure:  # nothing to move (an idle queue)
            return None
        with self.store.batch():  # one commit for the whole replay, not one per transition
            return self._replay()

    def _replay(self) -> float | None:
        if self._unsure:
            self._reread_unsure()
        now = self.clock.now()
        schedule = Schedule(
            self._active.values(), self.timing.capacity, self._start_time, self._completion_time
        )
        changed = False
        while (event := schedule.next_event()) is not None and event.at <= now:
            if event.kind == "finish":
                self._finish(event.record, event.at)
            elif event.kind == "start":
                self._begin(event.record, event.at)
                completes = self._completion_time(event.record)
                # One that also finishes in this replay (its output is ready, its run time
                # over) is written once, by its finish: no other reader runs in between.
                if (completes is None or completes > now) and not self._save(event.record):
                    completes = None
                schedule.started(event, completes)
            else:
                self._complete(
                    event.record, event.at, Production(error=START_TIMEOUT_ERROR), "error"
                )
            schedule.applied(event)
            changed = True
        if changed:
            self._notify()
        return None if event is None else event.at

    def _begin(self, record: RequestRecord, at: float) -> None:
        """Start ``record`` at ``at`` (the caller writes it)."""
        record.status = "IN_PROGRESS"
        record.started_at = at
        record.due_at = at + record.run_seconds
        record.logs = []
        if record.rejection is None:  # a rejected input never reaches the model: no logs
            endpoint = ENDPOINTS[record.endpoint_id]
            record.logs = [
                log_line(at, endpoint.start_log(endpoint.arguments_of(record))),
                *(
                    log_line(
                        at + point * record.run_seconds, endpoint.progress_log(round(point * 100))
                    )
                    for point in PROGRESS_POINTS
                ),
            ]
        if record.extra_logs:
            record.logs += [
                log_line(at + line["at"] * record.run_seconds, line["message"])
                for line in record.extra_logs
            ]
            record.logs.sort(key=lambda line: line["at"])

    def _finish(self, record: RequestRecord, at: float) -> None:
        if record.cancel_requested_at is not None:
            self._complete(record, at, Production(error=CANCELLED_WHILE_RUNNING), "cancelled")
            return
        production, _ = self._ready[record.request_id]
        if production.error is not None and self._retries(record, production.error):
            self._requeue(record, at)
            return
        self._complete(record, at, production, "error" if production.error else "ok")

    @staticmethod
    def _retries(record: RequestRecord, error: dict[str, Any]) -> bool:
        """Whether fal would run this failed attempt again (queue requests only)."""
        return (
            record.mode == "queue"
            and record.attempt < MAX_ATTEMPTS
            and retried(error)
            and retries_wanted(record.headers)
        )

    def _requeue(self, record: RequestRecord, at: float) -> None:
        """The next attempt: "the request goes back to the queue for a retry" (fal's queue
        docs), IN_QUEUE at once [INF: the status value shown], with a new gateway request id.
        The start deadline is a fixed time: past it the attempt ends in fal's 504."""
        if record.start_deadline is not None and at >= record.start_deadline:
            self._complete(record, at, Production(error=START_TIMEOUT_ERROR), "error")
            return
        log.info("%s: attempt %d failed, retrying", record.request_id, record.attempt)
        record.status = "IN_QUEUE"
        record.attempt += 1
        record.gateway_request_id = new_request_id()
        record.eligible_at = at
        record.started_at = record.due_at = None
        record.start_gate = record.finish_gate = None
        record.logs = []
        if not self._save(record):
            return
        self._ready.pop(record.request_id, None)
        self._produce(record)
        self.kick()

    def _complete(
        self,
        record: RequestRecord,
        at: float,
        production: Production,
        outcome: Literal["ok", "error", "cancelled"],
    ) -> bool:
        record.status = "COMPLETED"
        record.completed_at = at
        record.outcome = outcome
        record.media = production.media
        record.error = production.error
        record.notes = [*record.notes, *production.notes]  # the submit's own come first
        if production.units is not None:
            record.cost_units = production.units
        for note in production.notes:
            log.info("%s: %s", record.request_id, note)
        if outcome == "ok":
            record.logs.append(log_line(at, ENDPOINTS[record.endpoint_id].facts.finished_log))
        if not self._save(record):
            return False
        self._ready.pop(record.request_id, None)
        task = self._producing.pop(record.request_id, None)
        if task is not None:
            task.cancel()
        self._notify()
        for listener in self.completion_listeners:
            listener(record)
        return True


def _scenario_of(plan: RequestPlan) -> dict[str, Any] | None:
    """What the producer must make of a scenario: its name, an error or a custom output."""
    if plan.scenario is None:
        return None
    return {
        "name": plan.scenario,
        "error": plan.error,
        "error_attempts": plan.error_attempts,
        "output": plan.output,
    }
