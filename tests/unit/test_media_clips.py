"""The geometry of a generic video request, against the documented (inferred) rules worked by hand:
short side from ``resolution`` (default 720), long side = short x ratio rounded to an even
number (default 16:9), 24 fps, 5 s."""

from __future__ import annotations

import pytest

from mockserver.media.clips import clip_plan


@pytest.mark.parametrize(
    ("arguments", "geometry"),
    [
        ({}, (1280, 720, 5.0, 24)),
        ({"resolution": "1080p"}, (1920, 1080, 5.0, 24)),
        ({"resolution": "480p", "aspect_ratio": "9:16"}, (480, 854, 5.0, 24)),  # 853.3 -> 854
        ({"aspect_ratio": "1:1"}, (720, 720, 5.0, 24)),
        ({"resolution": "4k"}, (3840, 2160, 5.0, 24)),
        ({"duration": "10"}, (1280, 720, 10.0, 24)),
        ({"duration": "8s"}, (1280, 720, 8.0, 24)),
        ({"duration": 6}, (1280, 720, 6.0, 24)),
        ({"num_frames": 121, "fps": 30}, (1280, 720, 121 / 30, 30)),
        ({"frames_per_second": 16}, (1280, 720, 5.0, 16)),
        ({"image_size": "landscape_16_9"}, (1024, 576, 5.0, 24)),  # fal's preset
        ({"image_size": {"width": 513, "height": 301}}, (512, 300, 5.0, 24)),  # down to even
    ],
)
def test_geometry(arguments: dict, geometry: tuple) -> None:
    plan = clip_plan(arguments)
    assert (plan.width, plan.height, plan.seconds, plan.fps) == pytest.approx(geometry)


@pytest.mark.parametrize(
    "arguments",
    [
        {"resolution": "huge"},
        {"aspect_ratio": "banana"},
        {"duration": "long"},
        {"fps": 0},
        {"fps": "x"},
        {"duration": 999},
    ],
)
def test_unreadable_values_fall_back_with_a_note(arguments: dict) -> None:
    plan = clip_plan(arguments)
    assert (plan.width, plan.height, plan.fps) == (1280, 720, 24)
    assert 0 < plan.seconds <= 60
    assert plan.notes
