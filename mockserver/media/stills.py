"""Still images for any endpoint's output: real PNG, JPEG, WebP or GIF files of the asked size.

The size a request asks for, by the first rule that applies (a value a rule cannot read falls
through to the next one, with a note; nothing here raises on a request value):

1. ``image_size`` naming a preset: fal's own table, ``IMAGE_SIZE_PRESETS`` in fal's app toolkit
   (``fal-ai/fal``, ``projects/fal/src/fal/toolkit/image/image.py``): square_hd 1024x1024,
   square 512x512, portrait_4_3 768x1024, portrait_16_9 576x1024, landscape_4_3 1024x768,
   landscape_16_9 1024x576.
2. ``image_size`` as an object ``{width, height}``: as given, when both are integers in
   1..14142 (the toolkit's ``ImageSize`` bounds: ``gt=0, le=14142``).
3. ``aspect_ratio`` as ``"W:H"`` (``"16:9"``, ``"1:1"``, ``"2.39:1"``): short side
   ``ASPECT_SHORT_SIDE`` (1024, inferred: the side of fal's ``square_hd``), long side the short
   side times the ratio rounded to an even number, as the video geometry rounds. Ratios beyond
   ``MAX_RATIO`` are refused (fall through).
4. ``DEFAULT_SIZE``: 1024x1024, fal's ``square_hd`` (inferred: each model has its own default).

A size over ``MAX_PIXELS`` is scaled down, keeping its ratio (the emulator's memory, not fal's
rule; noted), so the Image's ``width``/``height`` always tell what the file holds.

Formats: ``output_format`` ``png``, ``jpeg`` (``jpg``), ``webp`` or ``gif``; otherwise PNG, the
toolkit's fallback when ``Image.from_pil`` is given no format. Encoded as the toolkit encodes:
PNG at ``compress_level=1``, JPEG at ``quality=95``.

The picture: the prompt's colours and boxes (``drawing.look_for``, as the video frames), a panel
with the caller's lines (endpoint, prompt, size, request). Same lines, same bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contracts.schemas.geometry import VideoSpec

from .drawing import PROMPT_MAX_LINES, layout_for, look_for, panel_font, wrap_text

if TYPE_CHECKING:  # PIL is imported where it draws: start-up draws nothing
    from PIL import Image

IMAGE_SIZE_PRESETS: Mapping[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
"""fal's image size presets (fal-ai/fal, fal/toolkit/image/image.py, ``IMAGE_SIZE_PRESETS``)."""

MAX_SIDE = 14142  # the toolkit's ImageSize bound (le=14142)
MAX_PIXELS = 4096 * 4096  # the emulator's own cap: a 14142² RGB image would need 600 MB
ASPECT_SHORT_SIDE = 1024  # [INF] the side of fal's square_hd preset
MAX_RATIO = 8.0  # [INF] wider than 8:1 is no aspect ratio a model offers
DEFAULT_SIZE: tuple[int, int] = IMAGE_SIZE_PRESETS["square_hd"]  # [INF]
_RATIO_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*")


@dataclass(frozen=True)
class StillFormat:
    """How one ``output_format`` is written: Pillow's format, its options, the file's names."""

    pil_format: str
    content_type: str
    extension: str
    options: Mapping[str, Any] = field(default_factory=dict)


STILL_FORMATS: Mapping[str, StillFormat] = {
    "png": StillFormat("PNG", "image/png", ".png", {"compress_level": 1}),
    "jpeg": StillFormat("JPEG", "image/jpeg", ".jpg", {"quality": 95}),
    "jpg": StillFormat("JPEG", "image/jpeg", ".jpg", {"quality": 95}),
    "webp": StillFormat("WEBP", "image/webp", ".webp", {"quality": 90}),
    "gif": StillFormat("GIF", "image/gif", ".gif"),
}
DEFAULT_FORMAT = "png"
"""fal's toolkit saves a PIL image as PNG when no format is given (``Image.from_pil``)."""

FORMAT_BY_CONTENT_TYPE: Mapping[str, str] = {
    fmt.content_type: name for name, fmt in reversed(list(STILL_FORMATS.items()))
}


@dataclass(frozen=True)
class Sized:
    """A size read from a request, and what the reading had to say about it."""

    width: int
    height: int
    notes: tuple[str, ...] = ()


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != int(value) or not 1 <= value <= MAX_SIDE:
        return None
    return int(value)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def size_for_ratio(aspect_ratio: Any, short_side: int) -> tuple[int, int] | None:
    """``"W:H"`` at the given short side (long side rounded to an even number), or None."""
    if not isinstance(aspect_ratio, str):
        return None
    match = _RATIO_RE.fullmatch(aspect_ratio)
    if not match:
        return None
    w, h = float(match[1]), float(match[2])
    if w <= 0 or h <= 0 or max(w / h, h / w) > MAX_RATIO:
        return None
    if w >= h:
        return _even(short_side * w / h), short_side
    return short_side, _even(short_side * h / w)


def _preset(value: Any) -> tuple[int, int] | None:
    return IMAGE_SIZE_PRESETS.get(value) if isinstance(value, str) else None


def _object(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, Mapping):
        return None
    width, height = _positive_int(value.get("width")), _positive_int(value.get("height"))
    return (width, height) if width and height else None


def _ratio(value: Any) -> tuple[int, int] | None:
    return size_for_ratio(value, ASPECT_SHORT_SIDE)


# (request field, reader): the size rules, in order.
SIZE_RULES: tuple[tuple[str, Any], ...] = (
    ("image_size", _preset),
    ("image_size", _object),
    ("aspect_ratio", _ratio),
)


def capped(width: int, height: int) -> tuple[int, int]:
    """Scaled down to ``MAX_PIXELS`` keeping the ratio; unchanged when within."""
    if width * height <= MAX_PIXELS:
        return width, height
    scale = math.sqrt(MAX_PIXELS / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def image_size_of(arguments: Mapping[str, Any]) -> Sized:
    """The pixel size a request asks for (see the module's rules)."""
    notes: list[str] = []
    size: tuple[int, int] | None = None
    for name in dict.fromkeys(name for name, _ in SIZE_RULES):
        if name not in arguments or arguments[name] is None:
            continue
        value = arguments[name]
        size = next((s for n, read in SIZE_RULES if n == name and (s := read(value))), None)
        if size:
            break
        notes.append(f"{name} {value!r} is not a size the emulator reads; next rule")
    width, height = size or DEFAULT_SIZE
    if (width, height) != capped(width, height):
        notes.append(f"{width}x{height} is over the emulator's {MAX_PIXELS} pixels; scaled down")
        width, height = capped(width, height)
    return Sized(width, height, tuple(notes))


def still_format_of(value: Any) -> tuple[str, tuple[str, ...]]:
    """The ``output_format`` as a key of ``STILL_FORMATS`` (PNG when absent or unknown)."""
    if value is None:
        return DEFAULT_FORMAT, ()
    name = value.lower() if isinstance(value, str) else None
    if name in STILL_FORMATS:
        return name, ()
    return DEFAULT_FORMAT, (f"output_format {value!r} is no image format; {DEFAULT_FORMAT}",)


def _rgb(ffmpeg_color: str) -> str:
    return "#" + ffmpeg_color.removeprefix("0x")


def draw_still(width: int, height: int, look_seed: str, lines: Sequence[str]) -> Image.Image:
    """The look of ``look_seed`` (its background and boxes) with ``lines`` on a panel.

    ``lines[1]`` (when there are three or more) is wrapped over up to ``PROMPT_MAX_LINES``."""
    from PIL import Image, ImageDraw  # on first use: start-up draws nothing

    spec = VideoSpec(width=width, height=height, fps=1, frame_count=1)  # one frame's layout
    look = look_for(look_seed, loop=True)
    font = panel_font(max(12, round(min(width, height) / 24)))
    max_w = max(1, width - 3 * layout_for(spec, 0).margin)
    text = list(lines)
    if len(text) >= 3:
        text[1:2] = wrap_text(text[1], font, max_w, PROMPT_MAX_LINES)
    lay = layout_for(spec, len(text))
    image = Image.new("RGB", (width, height), look.background)
    draw = ImageDraw.Draw(image)
    short = min(width, height)
    top, bottom = lay.free_top, height - lay.margin // 2
    left, right = lay.margin // 2, width - lay.margin // 2
    for box in look.boxes:  # where the video's boxes start
        size = max(8, round(short * box.size)) // 2 * 2
        x = left + max(1, right - left - size) * min(1.0, max(0.0, box.x0))
        y = top + max(1, bottom - top - size) * min(1.0, max(0.0, box.y0))
        draw.rectangle((round(x), round(y), round(x) + size, round(y) + size), fill=_rgb(box.color))
    pad = lay.margin // 2
    line_h = round(lay.font_px * 1.25)
    panel_w = max(int(font.getlength(line)) for line in text) + 2 * pad
    panel_h = 2 * pad + len(text) * line_h
    draw.rectangle(
        (lay.margin, lay.margin, lay.margin + panel_w, lay.margin + panel_h), fill=look.panel
    )
    for i, line in enumerate(text):
        draw.text((lay.margin + pad, lay.margin + pad + i * line_h), line, font=font, fill="white")
    return image


def encode_still(image: Image.Image, output_format: str) -> bytes:
    """``image`` as the bytes of a file in ``output_format`` (a key of ``STILL_FORMATS``)."""
    fmt = STILL_FORMATS[output_format]
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.pil_format, **fmt.options)
    return buffer.getvalue()


def still_bytes(
    width: int, height: int, output_format: str, look_seed: str, lines: Sequence[str]
) -> bytes:
    """A drawn still encoded: what one generated image's file holds."""
    return encode_still(draw_still(width, height, look_seed, lines), output_format)
