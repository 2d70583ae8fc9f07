"""``SharedMetrics``: ``GET /_mock/metrics`` on any replica sums every live replica's counters.

Each replica counts its own requests as one process does (no round trip per request) and
publishes its snapshot to one Redis hash, field = its replica id: soon after it changed, at
least every second, and whenever it reads. A read takes its own snapshot fresh, the others'
from the hash, skips (and removes) those whose replica's heartbeat expired, and sums them
(``observation.metrics.summed``); the gauges come from the shared store and journal.

A reset moves an epoch (a counter in Redis) and deletes the hash. A snapshot is stored only
under the epoch it counts from, so a replica that has not yet heard of the reset cannot put
its old counts back; it zeroes them as soon as it hears or sees the new epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mockserver.observation.journal import JournalEntry
from mockserver.observation.metrics import Metrics, summed

if TYPE_CHECKING:
    from mockserver.shared.connection import SharedRedis

log = logging.getLogger(__name__)

EXCHANGE = """
local epoch = redis.call('GET', KEYS[1]) or '0'
if epoch == ARGV[1] then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
local out = {epoch}
if ARGV[5] == '1' then
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[2] then
      if redis.call('EXISTS', ARGV[4] .. all[i]) == 1 then
        table.insert(out, all[i + 1])
      else
        redis.call('HDEL', KEYS[2], all[i])
      end
    end
  end
end
return out
"""
"""KEYS: epoch, snapshots. ARGV: the epoch this replica counts from, its id, its snapshot, the
heartbeat key prefix, '1' to read the others'. Returns the epoch, then the live others'."""

PUBLISH_SECONDS = 1.0
MIN_GAP_SECONDS = 0.05
"""At most this often: a busy replica publishes a few times a second, not per request."""


class SharedMetrics(Metrics):
    def __init__(self, shared: SharedRedis) -> None:
        self._shared = shared
        self._keys = [shared.keys.of("metrics", "epoch"), shared.keys.of("metrics")]
        self._epoch: int | None = None
        """The reset this replica counts from (None until it started)."""
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._scripts: dict[int, Any] = {}
        self.renders: Callable[[], int] = lambda: 0
        """This replica's renders started (its renderer's counter, set once the app runs)."""
        super().__init__()

    def observe(self, entry: JournalEntry) -> None:
        super().observe(entry)
        self._changed.set()

    def reset(self) -> None:
        """Zero this replica's counters (a reset here, or heard from another replica) and
        count from the current epoch."""
        super().reset()
        if self._epoch is not None:
            self._epoch = int(self._shared.sync.get(self._keys[0]) or 0)

    def clear_shared(self) -> None:
        """A reset through this replica: a new epoch, no snapshot of the old one."""
        pipe = self._shared.sync.pipeline(transaction=True)
        pipe.incr(self._keys[0])
        pipe.delete(self._keys[1])
        self._epoch = int(pipe.execute()[0])

    # -- publishing and summing ---------------------------------------------------------------

    def _exchange_args(self, read: bool) -> list[Any]:
        own = super().snapshot(self.renders(), {})
        return [
            self._epoch if self._epoch is not None else -1,
            self._shared.replica_id,
            json.dumps(own),
            self._shared.keys.replica(""),
            "1" if read else "0",
        ]

    def _script(self, client: Any) -> Any:
        if id(client) not in self._scripts:
            self._scripts[id(client)] = client.register_script(EXCHANGE)
        return self._scripts[id(client)]

    def _saw(self, epoch: bytes) -> bool:
        """Whether the stored epoch is not this replica's: a reset elsewhere moved it on (zero
        and count from it), or Redis lost it (keep the counts, take its epoch). Either way
        the snapshot was not stored: publish again."""
        seen = int(epoch)
        if self._epoch is None or seen == self._epoch:
            return False
        if seen > self._epoch:
            super().reset()
        self._epoch = seen
        return True

    def snapshot(self, renders_started: int, extra: Mapping[str, Any]) -> dict[str, Any]:
        """Every live replica's counters summed, this one's taken now."""
        epoch, *others = self._script(self._shared.sync)(
            keys=self._keys, args=self._exchange_args(read=True)
        )
        if self._saw(epoch):
            self._changed.set()
        own = super().snapshot(renders_started, {})
        return {**summed([own, *(json.loads(raw) for raw in others)]), **extra}

    async def publish(self) -> None:
        """Store this replica's snapshot now (under its epoch, else it zeroes)."""
        counted_from = self._epoch
        epoch, *_ = await self._script(self._shared.aio)(
            keys=self._keys, args=self._exchange_args(read=False)
        )
        if self._epoch == counted_from and self._saw(epoch):  # no reset here meanwhile
            self._changed.set()

    async def _publishing(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), PUBLISH_SECONDS)
            self._changed.clear()
            try:
                await self.publish()
            except Exception as exc:  # Redis away: next round
                log.warning("metrics not published: %s", exc)
            await asyncio.sleep(MIN_GAP_SECONDS)

    def start(self, renders: Callable[[], int]) -> None:
        self.renders = renders
        self._epoch = int(self._shared.sync.get(self._keys[0]) or 0)
        self._task = asyncio.get_running_loop().create_task(
            self._publishing(), name="ray2-mock metrics publisher"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # leaving: this replica's counts go with it
            self._shared.sync.hdel(self._keys[1], self._shared.replica_id)
