"""Output geometry of Ray 2 videos, kept as data so a live measurement can correct it in one line.

Sources and status (docs/evidence.md, ``mindstudio-ray2``): the 16:9 sizes and 24 fps are
reported by third parties; the other aspect ratios and the frame counts are our inferred rule
(short side = 540/720/1080, long side = short × ratio rounded to an even number; 5 s → 120
frames, 9 s → 216).

Each endpoint names its output rule in ``endpoints.json`` (``render``): ``generate`` looks the
request up in the tables; ``reframe`` keeps the input video's duration at the requested aspect
ratio, in the resolution class nearest the input's short side; ``modify`` keeps the input's size
(rounded down to even numbers, as H.264 4:2:0 needs) and duration. Both give 24 fps. Luma keeps
the source's duration (its reframe "preserves the source frame-for-frame"); the size rules and
the frame rate of those two are inferred.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

SHORT_SIDES: Mapping[str, int] = {"540p": 540, "720p": 720, "1080p": 1080}
REFRAME_SIZES: Mapping[tuple[str, str], tuple[int, int]] = {
    **FRAME_SIZES,
    **{("1:1", resolution): (side, side) for resolution, side in SHORT_SIDES.items()},
}
"""Reframe also offers 1:1 (its schema's enum); the square takes the short side."""

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


@dataclass(frozen=True)
class SourceVideo:
    """What an output rule needs of an input video, as read back from its file."""

    width: int
    height: int
    seconds: float


def frames_for(seconds: float) -> int:
    """Frames of a clip that lasts ``seconds`` at FPS (at least one)."""
    return max(1, round(seconds * FPS))


def resolution_class(source: SourceVideo) -> str:
    """The resolution whose short side is nearest the source's (ties go to the smaller)."""
    short = min(source.width, source.height)
    return min(SHORT_SIDES, key=lambda r: (abs(SHORT_SIDES[r] - short), SHORT_SIDES[r]))


def _even(value: int) -> int:
    return max(2, value // 2 * 2)


def _reframe(arguments: Mapping[str, Any], source: SourceVideo) -> tuple[int, int]:
    aspect = arguments.get("aspect_ratio")
    try:
        return REFRAME_SIZES[(aspect, resolution_class(source))]  # type: ignore[index]
    except KeyError as exc:
        raise ValueError(f"no reframe geometry for aspect_ratio={aspect!r}") from exc


def _modify(arguments: Mapping[str, Any], source: SourceVideo) -> tuple[int, int]:
    return _even(source.width), _even(source.height)


SOURCE_RULES: Mapping[str, Callable[[Mapping[str, Any], SourceVideo], tuple[int, int]]] = {
    "reframe": _reframe,
    "modify": _modify,
}
"""Output rules that start from an input video: its size -> the output's (duration is kept)."""
OUTPUT_RULES: tuple[str, ...] = ("generate", *SOURCE_RULES)


def output_spec(
    rule: str, arguments: Mapping[str, Any], source: SourceVideo | None = None
) -> VideoSpec:
    """The output of an endpoint whose rule is ``rule`` (``endpoints.json``'s ``render``).

    ``source`` is the input video (required by the reframe and modify rules)."""
    if rule == "generate":
        return video_spec(arguments)
    if rule not in SOURCE_RULES:
        raise ValueError(f"unknown output rule {rule!r}; known: {OUTPUT_RULES}")
    if source is None:
        raise ValueError(f"the {rule} rule needs the input video")
    width, height = SOURCE_RULES[rule](arguments, source)
    return VideoSpec(width=width, height=height, fps=FPS, frame_count=frames_for(source.seconds))
