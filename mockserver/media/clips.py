"""The geometry of a video any endpoint returns: size, length and frame rate read from a request.

Ray 2's own endpoints keep their evidence-backed tables (``contracts.schemas.geometry``); these
rules are for every other model, whose types carry no output geometry, so all are inferred [INF].
A value a rule cannot read falls through to the next rule with a note; nothing here raises.

- Size: ``resolution`` gives the short side (``"720p"`` -> 720, any ``"<N>p"`` with N in
  144..2160; ``"4k"`` 2160, ``"2k"`` 1440, ``"1k"`` 1080), ``aspect_ratio`` (``"W:H"``) the
  ratio; the long side is the short side times the ratio rounded to an even number (as the
  still rules round). Either alone takes the other's default (720p, 16:9). Neither given, an
  ``image_size`` (a preset or ``{width, height}``) is read by the still rules and rounded down to
  even numbers (H.264 4:2:0 needs them). Nothing given: 1280x720.
- Length: ``duration`` (a number or ``"5"``/``"5s"``) in (0, ``MAX_SECONDS``]; else
  ``num_frames`` at the frame rate; else ``DEFAULT_SECONDS`` (5 s).
- Frame rate: ``fps`` or ``frames_per_second``, an integer in 1..120; else 24 (Ray 2's rate).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .stills import image_size_of, size_for_ratio

DEFAULT_SHORT_SIDE = 720
DEFAULT_RATIO = "16:9"
DEFAULT_SECONDS = 5.0
MAX_SECONDS = 60.0  # the emulator's cap: every frame is encoded for real
DEFAULT_FPS = 24
NAMED_RESOLUTIONS: Mapping[str, int] = {"4k": 2160, "2k": 1440, "1k": 1080, "uhd": 2160}
_P_RE = re.compile(r"\s*(\d{3,4})\s*p\s*")
_SECONDS_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*s?\s*")
FPS_FIELDS: tuple[str, ...] = ("fps", "frames_per_second")


@dataclass(frozen=True)
class ClipPlan:
    """One video to render: pixel size, seconds, frames per second, and what the reading noted."""

    width: int
    height: int
    seconds: float
    fps: int
    notes: tuple[str, ...] = ()

    @property
    def frame_count(self) -> int:
        return max(1, round(self.seconds * self.fps))


def short_side_of(resolution: Any) -> int | None:
    if not isinstance(resolution, str):
        return None
    if resolution.lower() in NAMED_RESOLUTIONS:
        return NAMED_RESOLUTIONS[resolution.lower()]
    match = _P_RE.fullmatch(resolution.lower())
    side = int(match[1]) if match else 0
    return side if 144 <= side <= 2160 else None


def _size(arguments: Mapping[str, Any], notes: list[str]) -> tuple[int, int]:
    resolution, ratio = arguments.get("resolution"), arguments.get("aspect_ratio")
    if resolution is None and ratio is None and arguments.get("image_size") is not None:
        sized = image_size_of(arguments)
        notes.extend(sized.notes)
        return max(2, sized.width // 2 * 2), max(2, sized.height // 2 * 2)
    short = short_side_of(resolution)
    if short is None:
        if resolution is not None:
            notes.append(f"resolution {resolution!r} is not one the emulator reads; 720p")
        short = DEFAULT_SHORT_SIDE
    size = size_for_ratio(ratio, short)
    if size is None:
        if ratio is not None:
            notes.append(f"aspect_ratio {ratio!r} is not one the emulator reads; {DEFAULT_RATIO}")
        size = size_for_ratio(DEFAULT_RATIO, short)
    assert size is not None
    return size


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and (match := _SECONDS_RE.fullmatch(value)):
        value = float(match[1])
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _fps(arguments: Mapping[str, Any], notes: list[str]) -> int:
    for name in FPS_FIELDS:
        value = arguments.get(name)
        if value is None:
            continue
        number = _number(value)
        if number is not None and number == int(number) and 1 <= number <= 120:
            return int(number)
        notes.append(f"{name} {value!r} is not a frame rate the emulator reads; {DEFAULT_FPS}")
    return DEFAULT_FPS


def _seconds(arguments: Mapping[str, Any], fps: int, notes: list[str]) -> float:
    duration, frames = arguments.get("duration"), arguments.get("num_frames")
    seconds = _number(duration)
    if seconds is None and duration is not None:
        notes.append(f"duration {duration!r} is not a length the emulator reads")
    if seconds is None and (count := _number(frames)) is not None:
        seconds = count / fps
    if seconds is None:
        return DEFAULT_SECONDS
    if seconds > MAX_SECONDS:
        notes.append(f"{seconds:g} s is over the emulator's {MAX_SECONDS:g} s; cut")
    return min(seconds, MAX_SECONDS)


def clip_plan(arguments: Mapping[str, Any]) -> ClipPlan:
    """The video a request asks for (the module's rules)."""
    notes: list[str] = []
    width, height = _size(arguments, notes)
    fps = _fps(arguments, notes)
    seconds = _seconds(arguments, fps, notes)
    return ClipPlan(width, height, seconds, fps, tuple(notes))
