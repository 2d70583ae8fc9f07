"""The geometry table against the documented Ray 2 sizes (docs/evidence.md, mindstudio-ray2)."""

import pytest

from contracts.schemas.geometry import ASPECT_RATIOS, FRAME_COUNTS, FRAME_SIZES, RESOLUTIONS
from mockserver.media import video_spec

DOCUMENTED = {
    "16:9": [(960, 540), (1280, 720), (1920, 1080)],
    "9:16": [(540, 960), (720, 1280), (1080, 1920)],
    "4:3": [(720, 540), (960, 720), (1440, 1080)],
    "3:4": [(540, 720), (720, 960), (1080, 1440)],
    "21:9": [(1260, 540), (1680, 720), (2520, 1080)],
    "9:21": [(540, 1260), (720, 1680), (1080, 2520)],
}


def test_table_matches_documented_sizes() -> None:
    expected = {
        (aspect, res): size
        for aspect, sizes in DOCUMENTED.items()
        for res, size in zip(("540p", "720p", "1080p"), sizes, strict=True)
    }
    assert dict(FRAME_SIZES) == expected
    assert tuple(DOCUMENTED) == ASPECT_RATIOS
    assert RESOLUTIONS == ("540p", "720p", "1080p")


@pytest.mark.parametrize(("key", "size"), sorted(FRAME_SIZES.items()))
def test_sizes_follow_the_short_side_rule(key: tuple[str, str], size: tuple[int, int]) -> None:
    aspect, res = key
    a, b = (int(x) for x in aspect.split(":"))
    short = int(res.removesuffix("p"))
    w, h = size
    assert min(w, h) == short
    assert w % 2 == 0 and h % 2 == 0  # yuv420p needs even sizes
    long_side = max(w, h)
    assert abs(long_side - short * max(a, b) / min(a, b)) <= 1
    assert (w > h) == (a > b)


def test_frame_counts_at_24_fps() -> None:
    assert dict(FRAME_COUNTS) == {"5s": 120, "9s": 216}
    spec = video_spec({"aspect_ratio": "9:16", "resolution": "720p", "duration": "9s"})
    assert (spec.width, spec.height, spec.fps, spec.frame_count) == (720, 1280, 24, 216)
    assert spec.duration_seconds == 9.0


def test_defaults_apply_when_arguments_omit_them() -> None:
    spec = video_spec({"prompt": "x prompt"})
    assert (spec.width, spec.height, spec.frame_count) == (960, 540, 120)


@pytest.mark.parametrize(
    "bad", [{"aspect_ratio": "1:1"}, {"resolution": "4k"}, {"duration": "7s"}, {"duration": 5}]
)
def test_unknown_values_raise_value_error(bad: dict) -> None:
    with pytest.raises(ValueError):
        video_spec(bad)
