"""``SharedClock``: one emulated clock for every replica.

Wall time plus an offset, as ``SystemClock``; the offset lives in Redis. ``advance`` adds to it
there (``INCRBYFLOAT``: two replicas advancing at once both count) and tells the others, which
take the new offset as they hear it (``Replica``), so a clock moved through one replica moves
every replica's requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.clock import SystemClock

if TYPE_CHECKING:
    from mockserver.shared.connection import SharedRedis

CLOCK_MOVED = "c"
"""The event kind other replicas hear: the new offset follows."""


class SharedClock(SystemClock):
    def __init__(self, shared: SharedRedis) -> None:
        self._shared = shared
        stored = shared.sync.get(shared.keys.clock)
        super().__init__(offset=float(stored) if stored is not None else 0.0)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset = float(self._shared.sync.incrbyfloat(self._shared.keys.clock, seconds))
        self._shared.announce(CLOCK_MOVED, repr(self.offset))
        self._moved()

    def heard(self, payload: str) -> None:
        """Another replica moved the clock to this offset."""
        offset = float(payload)
        if offset > self.offset:
            self.offset = offset
            self._moved()
