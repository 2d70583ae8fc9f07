"""Clocks the queue runs on: wall time that tests can push forward, or a frozen one.

The state machine never calls ``time`` itself; it asks a clock. ``SystemClock`` follows
wall time plus an offset that ``advance`` grows (the control API and the pytest fixture use
it to skip a realistic queue wait). ``ManualClock`` only moves when told, for unit tests.
Both call their listeners on ``advance`` so the queue driver re-evaluates at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, as the emulated world sees it."""
        ...

    def advance(self, seconds: float) -> None:
        """Move emulated time forward and tell the listeners."""
        ...

    def real_delay(self, seconds: float) -> float | None:
        """Real seconds until ``seconds`` of emulated time pass by themselves (None: never)."""
        ...

    def on_advance(self, listener: Callable[[], None]) -> None: ...


class _Advancing:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _moved(self) -> None:
        for listener in list(self._listeners):
            listener()


class SystemClock(_Advancing):
    def __init__(self, offset: float = 0.0) -> None:
        super().__init__()
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        self._moved()

    def real_delay(self, seconds: float) -> float | None:
        return max(seconds, 0.0)


class ManualClock(_Advancing):
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__()
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._now += seconds
        self._moved()

    def real_delay(self, seconds: float) -> float | None:
        return 0.0 if seconds <= 0 else None
