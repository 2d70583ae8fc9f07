"""The video-to-video render rules: reframe and modify, drawn from the input video itself.

Both decode the input (or loop the placeholder still that stands in for a video that was not
fetched), resample it to 24 fps and give the output exactly the frame count of the input's
duration (a short input is held on its last frame, a long one cut); see ``geometry.output_spec``.

Reframe: the output canvas (requested aspect ratio) shows the reframing grid (thirds, the
"outpainted" area in the look's colours), the input scaled into its window with a white outline
around it, a cross at ``grid_position_x/y`` when given, and a panel naming the window. Where
the window goes follows Luma's own description of the fields (Replicate ``luma/reframe-video``):
``x_start..x_end`` / ``y_start..y_end`` are the source's bounds in output pixels (their distance
is its resized width/height), ``grid_position_x/y`` the source's position in output pixels;
without them the source is fitted and centred. Values outside the frame are clamped.

Modify: the input at its own size, its colours turned by the mode (``adhere_1`` a little,
``reimagine_3`` the most: hue and saturation move with the mode's rank) and a panel naming mode
and strength. An ``image_url`` (either rule) is the first frame, cover-scaled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.schemas.geometry import SourceVideo, VideoSpec

from .drawing import (
    PROMPT_MAX_CHARS,
    PROMPT_MAX_LINES,
    Layer,
    Look,
    layout_for,
    overlay_chain,
    panel_font,
    save_still,
    still_input,
    wrap_text,
)
from .images import frame_image, placeholder_image
from .videos import VideoInput

MODES: tuple[str, ...] = (
    "adhere_1",
    "adhere_2",
    "adhere_3",
    "flex_1",
    "flex_2",
    "flex_3",
    "reimagine_1",
    "reimagine_2",
    "reimagine_3",
)
"""Modify's modes, least to most change (its schema's description says so)."""
HUE_STEP_DEGREES = 20
GRID_LINES = 3
OUTLINE_PX = 3


@dataclass(frozen=True)
class Window:
    """Where the source sits in a reframed frame (output pixels, even sizes)."""

    x: int
    y: int
    width: int
    height: int
    how: str


def _int(arguments: Mapping[str, Any], name: str) -> int | None:
    value = arguments.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _even(value: float, limit: int) -> int:
    return _clamp(int(value) // 2 * 2, 2, limit // 2 * 2)


def reframe_window(arguments: Mapping[str, Any], source: SourceVideo, spec: VideoSpec) -> Window:
    """The source's window in the output: from the bounds, else the grid position, else fitted
    and centred (see the module docstring)."""
    out_w, out_h = spec.width, spec.height
    fit = min(out_w / source.width, out_h / source.height)
    width, height = _even(source.width * fit, out_w), _even(source.height * fit, out_h)
    x0, x1 = _int(arguments, "x_start"), _int(arguments, "x_end")
    y0, y1 = _int(arguments, "y_start"), _int(arguments, "y_end")
    gx, gy = _int(arguments, "grid_position_x"), _int(arguments, "grid_position_y")
    has_x = x0 is not None and x1 is not None and x1 > x0
    has_y = y0 is not None and y1 is not None and y1 > y0
    if has_x or has_y:
        if has_x:
            width = _even(x1 - x0, out_w)  # type: ignore[operator]
        if has_y:
            height = _even(y1 - y0, out_h)  # type: ignore[operator]
        if has_x and not has_y:
            height = _even(width * source.height / source.width, out_h)
        if has_y and not has_x:
            width = _even(height * source.width / source.height, out_w)
        x = x0 if has_x else (out_w - width) // 2
        y = y0 if has_y else (out_h - height) // 2
        how = "bounds"
    elif gx is not None or gy is not None:
        x = gx if gx is not None else (out_w - width) // 2
        y = gy if gy is not None else (out_h - height) // 2
        how = "grid position"
    else:
        x, y, how = (out_w - width) // 2, (out_h - height) // 2, "fitted, centred"
    x = _clamp(int(x), 0, out_w - width)  # type: ignore[arg-type]
    y = _clamp(int(y), 0, out_h - height)  # type: ignore[arg-type]
    return Window(x=x, y=y, width=width, height=height, how=how)


def mode_rank(arguments: Mapping[str, Any]) -> int:
    """1 (adhere_1) .. 9 (reimagine_3)."""
    mode = arguments.get("mode") or "flex_1"
    return MODES.index(mode) + 1 if mode in MODES else MODES.index("flex_1") + 1


# -- drawing -----------------------------------------------------------------------------------


def _prompt_line(arguments: Mapping[str, Any]) -> str | None:
    prompt = " ".join(str(arguments.get("prompt") or "").split())
    if not prompt:
        return None
    if len(prompt) > PROMPT_MAX_CHARS:
        prompt = prompt[:PROMPT_MAX_CHARS] + "…"
    return f"“{prompt}”"


def panel(spec: VideoSpec, look: Look, head: str, arguments: Mapping[str, Any], *rest: str):
    """The parameter panel: the head line, the prompt (wrapped), then ``rest``."""
    from PIL import Image, ImageDraw  # on first use: start-up draws nothing

    short = min(spec.width, spec.height)
    font = panel_font(max(12, round(short / 24)))
    lay0 = layout_for(spec, 0)
    max_w = spec.width - 3 * lay0.margin
    prompt = _prompt_line(arguments)
    lines = [head, *(wrap_text(prompt, font, max_w, PROMPT_MAX_LINES) if prompt else []), *rest]
    lay = layout_for(spec, len(lines))
    line_h = round(lay.font_px * 1.25)
    pad = lay.margin // 2
    width = min(max(int(font.getlength(line)) for line in lines) + 2 * pad, spec.width)
    height = min(lay.free_top - lay.margin // 2 - lay.margin, spec.height)
    image = Image.new("RGB", (max(2, width // 2 * 2), max(2, height // 2 * 2)), look.panel)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, font=font, fill="white")
    return image, lay


def reframe_canvas(spec: VideoSpec, look: Look, window: Window, arguments: Mapping[str, Any]):
    """The outpainted canvas: the look's background, the reframing grid, the window's outline
    and, when given, a cross at the grid position."""
    from PIL import Image, ImageDraw  # on first use: start-up draws nothing

    image = Image.new("RGB", (spec.width, spec.height), look.background)
    draw = ImageDraw.Draw(image)
    line = max(1, min(spec.width, spec.height) // 270)
    for i in range(1, GRID_LINES):
        x, y = spec.width * i // GRID_LINES, spec.height * i // GRID_LINES
        draw.line([(x, 0), (x, spec.height)], fill=look.panel, width=line)
        draw.line([(0, y), (spec.width, y)], fill=look.panel, width=line)
    o = OUTLINE_PX
    right, bottom = window.x + window.width + o - 1, window.y + window.height + o - 1
    draw.rectangle([window.x - o, window.y - o, right, bottom], outline="white", width=o)
    gx, gy = _int(arguments, "grid_position_x"), _int(arguments, "grid_position_y")
    if gx is not None or gy is not None:
        cx = _clamp(gx if gx is not None else spec.width // 2, 0, spec.width - 1)
        cy = _clamp(gy if gy is not None else spec.height // 2, 0, spec.height - 1)
        arm = max(6, min(spec.width, spec.height) // 30)
        draw.line([(cx - arm, cy), (cx + arm, cy)], fill="yellow", width=o)
        draw.line([(cx, cy - arm), (cx, cy + arm)], fill="yellow", width=o)
    return image


# -- filter graphs -----------------------------------------------------------------------------


def source_chain(index: int, video: VideoInput, width: int, height: int, fps: int) -> str:
    """The input video at ``width``x``height``, 24 fps, frame-numbered, held on its last frame
    (the placeholder: its still, looped)."""
    if video.placeholder:
        return f"{still_input(index, VideoSpec(width, height, fps, 1))}"
    return (
        f"[{index}]fps={fps},scale={width}:{height},setsar=1,format=yuv420p,"
        f"settb=1/{fps},setpts=N,tpad=stop_mode=clone:stop=-1"
    )


def progress_layer(spec: VideoSpec, bar_h: int) -> Layer:
    """A bar that fills up by the last frame, so every frame of the clip differs."""
    u = f"(t*{spec.fps}/{max(spec.frame_count - 1, 1)})"
    return Layer("white", spec.width, bar_h, f"-{spec.width}*(1-{u})", str(spec.height - bar_h))


@dataclass(frozen=True)
class Plan:
    inputs: list[Path]
    graph: str


def _source_file(video: VideoInput, workdir: Path, width: int, height: int) -> Path:
    if video.placeholder:
        still = placeholder_image(video.source.url, width, height, "video")
        return save_still(still, workdir, "source")
    path = workdir / "source.bin"
    path.write_bytes(video.source.data or b"")
    return path


def _first_frame(
    image: Any, spec: VideoSpec, workdir: Path, inputs: list[Path], current: str
) -> tuple[str, str]:
    """Overlay ``image`` (an ImageInput) on frame 0 only; returns (graph part, new label)."""
    if image is None:
        return "", current
    inputs.append(save_still(frame_image(image, spec.width, spec.height), workdir, "first"))
    index = len(inputs) - 1
    part = f"{still_input(index, spec)}[f];{current}[f]overlay=x=0:y=0:enable='eq(n,0)'[ff]"
    return part, "[ff]"


def _ending(
    parts: list[str], inputs: list[Path], image: Any, spec: VideoSpec, bar_h: int, workdir: Path
) -> Plan:
    """Both rules end alike: the chain so far (``[b]``), then ``image_url`` as the first frame
    when given, then the progress bar."""
    first, current = _first_frame(image, spec, workdir, inputs, "[b]")
    if first:
        parts.append(first)
    parts.append(overlay_chain(current, [progress_layer(spec, bar_h)], spec))
    return Plan(inputs, ";".join(parts))


def reframe_plan(
    spec: VideoSpec,
    look: Look,
    video: VideoInput,
    arguments: Mapping[str, Any],
    label: str,
    key: str,
    image: Any,
    workdir: Path,
) -> Plan:
    window = reframe_window(arguments, video.video, spec)
    src = video.video
    aspect = arguments.get("aspect_ratio")
    text, lay = panel(
        spec,
        look,
        f"ray2-mock · {label}",
        arguments,
        f"{src.width}x{src.height} to {aspect} · {spec.width}x{spec.height}",
        f"window {window.x},{window.y} {window.width}x{window.height} ({window.how})",
        f"{spec.duration_seconds:.2f} s · {spec.frame_count} frames @ {spec.fps} fps",
        f"id {key}",
    )
    inputs = [
        save_still(reframe_canvas(spec, look, window, arguments), workdir, "canvas"),
        _source_file(video, workdir, window.width, window.height),
        save_still(text, workdir, "panel"),
    ]
    parts = [
        f"{still_input(0, spec)}[bg]",
        f"{source_chain(1, video, window.width, window.height, spec.fps)}[src]",
        f"[bg][src]overlay=x={window.x}:y={window.y}[a]",
        f"{still_input(2, spec)}[p]",
        f"[a][p]overlay=x={lay.margin}:y={lay.margin}[b]",
    ]
    return _ending(parts, inputs, image, spec, lay.bar_h, workdir)


def modify_plan(
    spec: VideoSpec,
    look: Look,
    video: VideoInput,
    arguments: Mapping[str, Any],
    label: str,
    key: str,
    image: Any,
    workdir: Path,
) -> Plan:
    rank = mode_rank(arguments)
    mode = MODES[rank - 1]
    text, lay = panel(
        spec,
        look,
        f"ray2-mock · {label} · {mode}",
        arguments,
        f"strength {rank}/{len(MODES)} · {spec.width}x{spec.height} kept",
        f"{spec.duration_seconds:.2f} s · {spec.frame_count} frames @ {spec.fps} fps",
        f"id {key}",
    )
    inputs = [
        _source_file(video, workdir, spec.width, spec.height),
        save_still(text, workdir, "panel"),
    ]
    saturation = 1 + 0.1 * rank
    parts = [
        f"{source_chain(0, video, spec.width, spec.height, spec.fps)},"
        f"hue=h={HUE_STEP_DEGREES * rank}:s={saturation:.1f}[m]",
        f"{still_input(1, spec)}[p]",
        f"[m][p]overlay=x={lay.margin}:y={lay.margin}[b]",
    ]
    return _ending(parts, inputs, image, spec, lay.bar_h, workdir)


PLANS = {"reframe": reframe_plan, "modify": modify_plan}
"""Render rule (``endpoints.json``'s ``render``) -> how its frames are made."""


def plan_for(
    rule: str,
    spec: VideoSpec,
    look: Look,
    video: VideoInput,
    arguments: Mapping[str, Any],
    label: str,
    key: str,
    images: Mapping[str, Any],
    workdir: Path,
) -> tuple[list[Path], str]:
    plan = PLANS[rule](spec, look, video, arguments, label, key, images.get("image_url"), workdir)
    return plan.inputs, plan.graph
