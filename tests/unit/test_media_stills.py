"""Generated stills: fal's size presets, size objects, aspect ratios, formats, fallbacks.

Expected sizes are literals from fal's toolkit (``fal-ai/fal``,
``projects/fal/src/fal/toolkit/image/image.py``, ``IMAGE_SIZE_PRESETS``) or from the documented
inferred rule worked by hand; each file is read back with Pillow.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mockserver.media.stills import image_size_of, still_bytes, still_format_of
from tests.catalogue_samples import FAL_PRESETS


@pytest.mark.parametrize(("preset", "size"), FAL_PRESETS.items())
def test_presets_are_fals(preset: str, size: tuple[int, int]) -> None:
    sized = image_size_of({"image_size": preset})
    assert (sized.width, sized.height) == size
    assert sized.notes == ()


def test_size_object_is_taken_as_given() -> None:
    sized = image_size_of({"image_size": {"width": 640, "height": 360}})
    assert (sized.width, sized.height) == (640, 360)


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        # the documented rule: short side 1024, long side 1024 x ratio rounded to an even number
        ("16:9", (1820, 1024)),  # 1024 * 16 / 9 = 1820.44
        ("9:16", (1024, 1820)),
        ("1:1", (1024, 1024)),
        ("4:3", (1366, 1024)),  # 1365.33 -> 1366 (nearest even)
        ("21:9", (2390, 1024)),  # 2389.33 -> 2390
        ("2.39:1", (2448, 1024)),  # 2447.36 -> 2448
    ],
)
def test_aspect_ratio_rule(ratio: str, size: tuple[int, int]) -> None:
    sized = image_size_of({"aspect_ratio": ratio})
    assert (sized.width, sized.height) == size


def test_image_size_wins_over_aspect_ratio() -> None:
    sized = image_size_of({"image_size": "square", "aspect_ratio": "16:9"})
    assert (sized.width, sized.height) == (512, 512)


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"image_size": "banana"},
        {"image_size": {"width": 0, "height": 10}},
        {"image_size": {"width": 20000, "height": 10}},  # over the toolkit's le=14142
        {"image_size": {"width": "640", "height": 360}},
        {"image_size": {"width": True, "height": 360}},
        {"image_size": 7},
        {"aspect_ratio": "wide"},
        {"aspect_ratio": "0:1"},
        {"aspect_ratio": "100:1"},
    ],
)
def test_unreadable_sizes_fall_back_to_square_hd(arguments: dict) -> None:
    sized = image_size_of(arguments)
    assert (sized.width, sized.height) == (1024, 1024)  # the documented default, fal's square_hd
    assert bool(sized.notes) == bool(arguments)


def test_unreadable_image_size_falls_through_to_aspect_ratio() -> None:
    sized = image_size_of({"image_size": "banana", "aspect_ratio": "1:1"})
    assert (sized.width, sized.height) == (1024, 1024)
    assert any("banana" in note for note in sized.notes)


def test_huge_size_is_scaled_down_keeping_its_ratio() -> None:
    sized = image_size_of({"image_size": {"width": 14000, "height": 7000}})
    assert sized.width * sized.height <= 4096 * 4096
    assert abs(sized.width / sized.height - 2.0) < 0.01
    assert sized.notes


@pytest.mark.parametrize(
    ("requested", "pil_format"),
    [(None, "PNG"), ("png", "PNG"), ("jpeg", "JPEG"), ("jpg", "JPEG"), ("JPEG", "JPEG")]
    + [("webp", "WEBP"), ("gif", "GIF"), ("tiff", "PNG"), (3, "PNG")],
)
def test_formats_read_back(requested: object, pil_format: str) -> None:
    name, _ = still_format_of(requested)
    data = still_bytes(320, 200, name, "a red fox", ["ray2-mock", "“a red fox”", "320x200", "r"])
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == pil_format
        assert image.size == (320, 200)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(99)) > 3


def test_same_arguments_same_bytes_and_the_prompt_shows() -> None:
    lines = ["ray2-mock", "“a red fox”", "64x64", "r"]
    first = still_bytes(256, 144, "png", "a red fox", lines)
    assert still_bytes(256, 144, "png", "a red fox", lines) == first
    assert still_bytes(256, 144, "png", "a blue whale", lines) != first


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (3, 700)])
def test_tiny_and_thin_sizes_draw(size: tuple[int, int]) -> None:
    data = still_bytes(*size, "jpeg", "x", ["a", "b" * 200, "c"])
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == size
