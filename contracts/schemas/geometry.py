"""Output geometry of Ray 2 videos, kept as data so a live measurement can correct it in one line.

Sources and status (see shared/protocol/ray2-output.md): the 16:9 sizes and 24 fps are reported by
third parties; the other aspect ratios and the frame counts are our inferred rule (short side =
540/720/1080, long side = short × ratio rounded to an even number; 5 s → 120 frames, 9 s → 216).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FPS = 24

# (aspect_ratio, resolution) -> (width, height). The one table every size in the package comes from.
FRAME_SIZES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("16:9", "540p"): (960, 540),
    ("16:9", "720p"): (1280, 720),
    ("16:9", "1080p"): (1920, 1080),
    ("9:16", "540p"): (540, 960),
    ("9:16", "720p"): (720, 1280),
    ("9:16", "1080p"): (1080, 1920),
    ("4:3", "540p"): (720, 540),
    ("4:3", "720p"): (960, 720),
    ("4:3", "1080p"): (1440, 1080),
    ("3:4", "540p"): (540, 720),
    ("3:4", "720p"): (720, 960),
    ("3:4", "1080p"): (1080, 1440),
    ("21:9", "540p"): (1260, 540),
    ("21:9", "720p"): (1680, 720),
    ("21:9", "1080p"): (2520, 1080),
    ("9:21", "540p"): (540, 1260),
    ("9:21", "720p"): (720, 1680),
    ("9:21", "1080p"): (1080, 2520),
}

# duration enum -> frame count at FPS.
FRAME_COUNTS: Mapping[str, int] = {"5s": 120, "9s": 216}

# Schema defaults, so a spec can be computed even from arguments that skipped validation.
DEFAULTS: Mapping[str, Any] = {"aspect_ratio": "16:9", "resolution": "540p", "duration": "5s"}

ASPECT_RATIOS: tuple[str, ...] = tuple(dict.fromkeys(a for a, _ in FRAME_SIZES))
RESOLUTIONS: tuple[str, ...] = tuple(dict.fromkeys(r for _, r in FRAME_SIZES))
DURATIONS: tuple[str, ...] = tuple(FRAME_COUNTS)


@dataclass(frozen=True)
class VideoSpec:
    """Pixel size and timing of one output file."""

    width: int
    height: int
    fps: int
    frame_count: int

    @property
    def duration_seconds(self) -> float:
        return self.frame_count / self.fps


def video_spec(arguments: Mapping[str, Any]) -> VideoSpec:
    """Look the request's aspect ratio, resolution and duration up in the tables.

    Raises ValueError for values outside the enums; the app validates first, so that is a bug.
    """
    aspect = arguments.get("aspect_ratio") or DEFAULTS["aspect_ratio"]
    resolution = arguments.get("resolution") or DEFAULTS["resolution"]
    duration = arguments.get("duration") or DEFAULTS["duration"]
    try:
        width, height = FRAME_SIZES[(aspect, resolution)]
        frames = FRAME_COUNTS[duration]
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"no geometry for aspect_ratio={aspect!r} resolution={resolution!r} "
            f"duration={duration!r}"
        ) from exc
    return VideoSpec(width=width, height=height, fps=FPS, frame_count=frames)
