"""Drawing shared by every output rule: the look seeded from the prompt, the still's layout
and text, and the pieces of an ffmpeg filter graph (looped stills, moving layers).

``render.py`` (text- and image-to-video) and ``v2v.py`` (reframe, modify) both draw with these,
so neither needs the other's internals.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.schemas.geometry import VideoSpec

if TYPE_CHECKING:  # PIL is imported where it draws: start-up draws nothing
    from PIL import Image, ImageFont

# Stills go to ffmpeg as uncompressed PPM: 1080p in ~5 ms, against ~65 ms for PNG level 1.
STILL_FORMAT, STILL_SUFFIX = "PPM", ".ppm"


# ---------------------------------------------------------------------------------------------
# Look: colours and motion seeded from the prompt


@dataclass(frozen=True)
class BoxMotion:
    """One moving rectangle; positions are fractions of the free area, sizes of the short side."""

    color: str
    size: float
    x0: float
    y0: float
    x1: float
    y1: float
    ax: float
    ay: float
    kx: int
    ky: int
    phx: float
    phy: float


@dataclass(frozen=True)
class Look:
    background: tuple[int, int, int]
    panel: tuple[int, int, int]
    boxes: tuple[BoxMotion, ...]


BOX_COUNT = 3


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "0x{:02x}{:02x}{:02x}".format(*rgb)


def look_for(prompt: str, loop: bool) -> Look:
    """Colours and paths from the prompt's hash: same prompt, same look; new prompt, new look."""
    seed = hashlib.sha256(prompt.encode("utf-8")).digest()

    def frac(i: int) -> float:
        return seed[i % len(seed)] / 255.0

    hue = frac(0)
    boxes = []
    for i in range(BOX_COUNT):
        b = 1 + i * 8
        x0, y0 = 0.15 + 0.7 * frac(b), 0.15 + 0.7 * frac(b + 1)
        # loop=false: end a clear distance away (≥ 0.35 of the free area) so last ≠ first.
        x1 = x0 if loop else (x0 + 0.45 if x0 < 0.5 else x0 - 0.45)
        y1 = y0 if loop else (y0 + 0.35 if y0 < 0.5 else y0 - 0.35)
        boxes.append(
            BoxMotion(
                color=_hex(_hsv(hue + (i + 1) / (BOX_COUNT + 1) + 0.1 * frac(b + 2), 0.75, 0.95)),
                size=0.14 + 0.1 * frac(b + 3),
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                ax=0.08 + 0.1 * frac(b + 4),
                ay=0.08 + 0.1 * frac(b + 5),
                kx=1 + seed[b + 6] % 2,
                ky=1 + seed[b + 7] % 2,
                phx=2 * math.pi * frac(b + 6),
                phy=2 * math.pi * frac(b + 7),
            )
        )
    return Look(
        background=_hsv(hue, 0.55, 0.32),
        panel=_hsv(hue, 0.5, 0.16),
        boxes=tuple(boxes),
    )


# ---------------------------------------------------------------------------------------------
# The still: background + text panel (Pillow)


@dataclass(frozen=True)
class Layout:
    """Pixel layout shared by the still (Pillow) and the filter graph (ffmpeg)."""

    margin: int
    font_px: int
    bar_h: int
    free_top: int  # boxes move below the panel so the text stays readable


PROMPT_MAX_LINES = 3
PROMPT_MAX_CHARS = 300


def layout_for(spec: VideoSpec, text_lines: int) -> Layout:
    short = min(spec.width, spec.height)
    font_px = max(12, round(short / 24))
    margin = short // 20
    line_h = round(font_px * 1.25)
    panel_h = 2 * (margin // 2) + text_lines * line_h
    return Layout(
        margin=margin,
        font_px=font_px,
        bar_h=max(4, short // 60),
        free_top=margin + panel_h + margin // 2,
    )


def panel_font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont  # on first use: start-up draws nothing

    return ImageFont.load_default(size=px)


def wrap_text(text: str, font: Any, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width; hard-breaks long words; ellipsis when cut."""
    words = text.split() or [""]
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > max_width and len(current) > 1:
            cut = len(current)
            while cut > 1 and font.getlength(current[:cut]) > max_width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


# ---------------------------------------------------------------------------------------------
# The filter graph (ffmpeg)


def ffmpeg_number(v: float) -> str:
    """Fixed formatting so the command line, and hence the file, is deterministic."""
    return f"{v:.6f}"


def _path_expr(p0: float, p1: float, amp: float, k: int, phase: float, u: str) -> str:
    return (
        f"({ffmpeg_number(p0)}+({ffmpeg_number(p1 - p0)})*{u}"
        f"+{ffmpeg_number(amp)}*(sin({ffmpeg_number(2 * math.pi * k)}*{u}"
        f"+{ffmpeg_number(phase)})-{ffmpeg_number(math.sin(phase))}))"
    )


@dataclass(frozen=True)
class Layer:
    """A solid rectangle overlaid at a per-frame position (drawbox evaluates x/y only once)."""

    color: str
    width: int
    height: int
    x: str
    y: str


def motion_layers(spec: VideoSpec, look: Look, lay: Layout, loop: bool) -> list[Layer]:
    """The moving boxes and the progress indicator, positions as ffmpeg expressions of t."""
    u = f"(t*{spec.fps}/{spec.frame_count - 1})"
    short = min(spec.width, spec.height)
    top, bottom = lay.free_top, spec.height - lay.bar_h - lay.margin // 2
    left, right = lay.margin // 2, spec.width - lay.margin // 2
    layers = []
    for box in look.boxes:
        size = max(8, round(short * box.size)) // 2 * 2
        span_x = max(1, right - left - size)
        span_y = max(1, bottom - top - size)
        fx = _path_expr(box.x0, box.x1, box.ax, box.kx, box.phx, u)
        fy = _path_expr(box.y0, box.y1, box.ay, box.ky, box.phy, u)
        layers.append(
            Layer(
                color=box.color,
                width=size,
                height=size,
                x=f"{left}+{span_x}*clip({fx},0,1)",
                y=f"{top}+{span_y}*clip({fy},0,1)",
            )
        )
    bar_y = str(spec.height - lay.bar_h)
    if loop:  # a marker that travels out and back, so the last frame matches the first
        mw = max(8, spec.width // 8)
        x = f"{spec.width - mw}*(1-cos(2*PI*{u}))/2"
        layers.append(Layer("white", mw, lay.bar_h, x, bar_y))
    else:  # a bar that slides in from the left and fills up by the last frame
        layers.append(Layer("white", spec.width, lay.bar_h, f"-{spec.width}*(1-{u})", bar_y))
    return layers


def still_input(index: int, spec: VideoSpec, pix_fmt: str = "yuv420p") -> str:
    """Decode a still once, convert it once, repeat it, and give it exact 1/fps timestamps."""
    return f"[{index}]format={pix_fmt},loop=loop=-1:size=1,settb=1/{spec.fps},setpts=N"


def overlay_chain(base: str, layers: Sequence[Layer], spec: VideoSpec, enable: str = "") -> str:
    """Sources for each layer, then one overlay per layer onto `base`, ending in [v]."""
    on = f":enable='{enable}'" if enable else ""
    parts = []
    current = base
    for i, layer in enumerate(layers):
        parts.append(
            f"color=c={layer.color}:s={layer.width}x{layer.height}:r={spec.fps},"
            f"settb=1/{spec.fps}[l{i}]"
        )
        out = "[v]" if i == len(layers) - 1 else f"[o{i}]"
        parts.append(f"{current}[l{i}]overlay=x='{layer.x}':y='{layer.y}'{on}{out}")
        current = out
    return ";".join(parts)


def save_still(image: Image.Image, workdir: Path, name: str) -> Path:
    path = workdir / f"{name}{STILL_SUFFIX}"
    image.save(path, format=STILL_FORMAT)
    return path
