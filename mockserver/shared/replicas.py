"""``Replica``: this process among the ones sharing a Redis, and what it hears from them.

- A heartbeat key that expires ``HEARTBEAT_TTL`` after the replica stops renewing it (a crash,
  ``kill -9``, a lost network).
- A sweep that adopts the unfinished requests of a replica whose heartbeat expired (a
  compare-and-set on the owner, so one survivor takes each) and drives them to completion:
  an accepted request is never lost with the replica that accepted it.
- One pub/sub subscription to the event channel, dispatched by kind to the parts that asked
  (``on``): a record another replica changed (a cancel, a step, its transitions, so status
  streams here see them), the clock it moved, a reset, the scenarios it changed.
Every loop survives Redis going away and picks up where it was when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mockserver.shared.clock import CLOCK_MOVED

if TYPE_CHECKING:
    from mockserver.queue import RequestQueue
    from mockserver.shared.clock import SharedClock
    from mockserver.shared.connection import SharedRedis
    from mockserver.shared.store import RedisStore

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.5
HEARTBEAT_TTL = 2.0
"""Seconds without a renewal after which a replica counts as gone and its requests are adopted."""
SWEEP_SECONDS = 1.0
RECORD_CHANGED = "r"
RESET = "x"
RECONNECT_SECONDS = 0.5


class Replica:
    def __init__(
        self,
        shared: SharedRedis,
        store: RedisStore,
        queue: RequestQueue,
        clock: SharedClock | None,
    ) -> None:
        self.shared = shared
        self.store = store
        self.queue = queue
        self.clock = clock
        self._listeners: dict[str, list[Callable[[str], None]]] = {
            RECORD_CHANGED: [queue.refresh],
            CLOCK_MOVED: [clock.heard] if clock is not None else [],
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._beating_since: float | None = None
        """Since when every heartbeat has been answered (None: the last one failed)."""
        self.subscribed = asyncio.Event()

    def on(self, kind: str, listener: Callable[[str], None]) -> None:
        """Call ``listener(payload)`` whenever another replica announces ``kind``."""
        self._listeners.setdefault(kind, []).append(listener)

    async def beat(self) -> None:
        """Renew the heartbeat, and read the clock's offset in the same round trip: a move
        announced while this replica could not hear (Redis restarting) is caught up here.

        Sent on the asyncio client, so a hanging Redis never blocks the loop; an answer closes
        the blocking client's breaker (``failfast.py``)."""
        keys = self.shared.keys
        try:
            pipe = self.shared.aio.pipeline(transaction=False)
            pipe.set(keys.replica(self.shared.replica_id), "1", px=int(HEARTBEAT_TTL * 1000))
            pipe.get(keys.clock)
            _, offset = await pipe.execute()
        except BaseException:
            self._beating_since = None
            raise
        self.shared.breaker.close()
        if self._beating_since is None:
            self._beating_since = time.monotonic()
        if self.clock is not None and offset is not None:
            self.clock.heard(offset.decode())

    def adopt_orphans(self) -> int:
        """Adopt what no live replica drives. Only after this replica has beaten for a whole
        heartbeat lifetime: back from an outage, every heartbeat had lapsed, and the others
        need that long to renew theirs before any of them counts as gone."""
        since = self._beating_since
        if since is None or time.monotonic() - since < HEARTBEAT_TTL:
            return 0
        adopted = 0
        for request_id in self.store.orphans(self.queue.drives):
            record = self.store.get(request_id)
            if record is not None and record.status != "COMPLETED":
                log.info("adopting %s: no live replica drives it", request_id)
                self.queue.adopt(record)
                adopted += 1
        return adopted

    async def start(self) -> None:
        await self.beat()  # before anything: no other replica may take this one for gone
        self._beating_since = time.monotonic() - HEARTBEAT_TTL  # its own are driven already
        self._tasks = [
            asyncio.create_task(self._listen(), name="ray2-mock replica events"),
            asyncio.create_task(
                self._every(HEARTBEAT_SECONDS, self.beat), name="ray2-mock heartbeat"
            ),
            asyncio.create_task(
                self._every(SWEEP_SECONDS, self.adopt_orphans), name="ray2-mock orphan sweep"
            ),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 2.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):  # leaving: the others may adopt at once
            self.shared.sync.delete(self.shared.keys.replica(self.shared.replica_id))

    @staticmethod
    async def _every(seconds: float, work: Callable[[], object]) -> None:
        while True:
            try:
                done = work()
                if inspect.isawaitable(done):
                    await done
            except Exception as exc:  # Redis away: try again next round
                log.warning("%s failed: %s", getattr(work, "__name__", work), exc)
            await asyncio.sleep(seconds)

    async def _listen(self) -> None:
        """Hear every other replica's events, resubscribing after Redis comes back."""
        me = self.shared.replica_id
        while True:
            pubsub = self.shared.pubsub()
            try:
                await pubsub.subscribe(self.shared.keys.events)
                if self.subscribed.is_set():  # back after a gap: what changed meanwhile?
                    await self.beat()
                    self.queue.refresh_all()
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    kind, sender, payload = message["data"].decode().split(" ", 2)
                    if sender == me:
                        continue
                    for listener in self._listeners.get(kind, ()):
                        try:
                            listener(payload)
                        except Exception:
                            log.exception("handling replica event %s %s", kind, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("replica events lost (%s); resubscribing", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
