"""Servers on one core, the load generator on another, when the machine has two.

On a small machine a generator sharing cores with the server takes cycles from it, and in
different proportions for each target (Node's Prism, uvicorn, the ceiling), so the ratios would
measure the scheduler. Pinned, every server faces the same one-core budget and the generator
never competes with it. With one core there is nothing to keep apart.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pinning:
    """The cores for every server process and for the load generator (None: not pinned)."""

    server: tuple[int, ...] | None
    load_generator: tuple[int, ...] | None

    def record(self) -> dict[str, list[int]] | str:
        """What results.json and the summary say about it."""
        if self.server is None or self.load_generator is None:
            return "none (1 core)"
        return {"server": list(self.server), "load_generator": list(self.load_generator)}


def plan(available: Iterable[int]) -> Pinning:
    """The first usable core for the servers, the second for the generator."""
    cores = sorted(available)
    if len(cores) < 2:
        return Pinning(None, None)
    return Pinning((cores[0],), (cores[1],))


def current() -> Pinning:
    """The plan for this process's usable cores (a container may allow fewer than cpu_count)."""
    return plan(os.sched_getaffinity(0))


def preexec(cores: Sequence[int] | None) -> Callable[[], None] | None:
    """A Popen `preexec_fn` pinning the child (and whatever it spawns) to `cores`."""
    return None if cores is None else functools.partial(os.sched_setaffinity, 0, cores)
