"""Timing profiles: how long a request waits and runs, as data.

``queue_seconds`` is the gateway's minimum time in the queue; ``capacity`` is how many
requests run at once (the rest wait, with real queue positions); run time grows with the
request's cost units, because a 1080p 9 s clip takes longer than a 540p 5 s one. Each endpoint
row names its run-time class (``timing``): ``video`` is ``run_seconds_base`` and
``run_seconds_per_unit``, and a profile may give other classes their own (``other_runs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunTime:
    base: float
    per_unit: float
    """Added for each cost unit past the first."""


@dataclass(frozen=True)
class TimingProfile:
    name: str
    queue_seconds: float
    run_seconds_base: float
    run_seconds_per_unit: float
    capacity: int
    reject_seconds: float = 0.0
    """How long a request whose input the app rejects runs before its 422 (validation is
    quick, but the request still goes IN_QUEUE -> IN_PROGRESS -> COMPLETED)."""
    other_runs: Mapping[str, RunTime] = field(default_factory=dict)
    """Run times of the classes other than ``video``, by the endpoint rows' ``timing``."""

    @property
    def runs(self) -> Mapping[str, RunTime]:
        """Every run-time class this profile knows."""
        return {
            "video": RunTime(self.run_seconds_base, self.run_seconds_per_unit),
            **self.other_runs,
        }

    def run_seconds(self, cost_units: int, timing: str = "video") -> float:
        # the video class without building ``runs``: every Ray 2 submit asks
        run = RunTime(self.run_seconds_base, self.run_seconds_per_unit)
        if timing != "video":
            run = self.runs[timing]
        return run.base + run.per_unit * (cost_units - 1)


TIMING_PROFILES: dict[str, TimingProfile] = {
    p.name: p
    for p in (
        # Completes as soon as the video is rendered: unit tests and CI.
        TimingProfile(
            "instant",
            queue_seconds=0.0,
            run_seconds_base=0.0,
            run_seconds_per_unit=0.0,
            capacity=1_000_000,
            other_runs={"media": RunTime(0.0, 0.0)},
        ),
        # Default for `serve`: every state is visible for a moment, a clip takes ~3 s.
        TimingProfile(
            "fast",
            queue_seconds=0.5,
            run_seconds_base=2.5,
            run_seconds_per_unit=0.5,
            capacity=8,
            reject_seconds=0.2,
            other_runs={"media": RunTime(0.5, 0.0)},
        ),
        # Live-like: minutes per clip (Ray 2's times are unpublished; see protocol notes).
        TimingProfile(
            "realistic",
            queue_seconds=5.0,
            run_seconds_base=90.0,
            run_seconds_per_unit=30.0,
            capacity=2,
            reject_seconds=1.0,
            other_runs={"media": RunTime(6.0, 0.0)},  # an image, a voice line: seconds [INF]
        ),
    )
}
