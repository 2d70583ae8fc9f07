"""Input videos for reframe and modify: where the bytes come from, what they are, what fails.

The bytes come from the same sources as input images, by the same rules (``images.load_input``):
a ``data:`` URI, the emulator's own upload or output URL (``resolve_local_url``: a video it
generated earlier can be fed straight back), or another host by the ``--remote-images`` policy;
in the default ``placeholder`` mode a foreign video is not fetched and a deterministic
placeholder clip stands in for it (``PLACEHOLDER_SOURCE``), said in the emulator's notes.

The bytes are read back with PyAV (size, duration) on the way in, so the output geometry is
known before anything renders. What fails is answered in fal's model-error shape (422, loc
``["body", "video_url"]``, ``url`` = ``https://docs.fal.ai/errors#<type>``), never a 500; the
emulator's reason goes to its notes, the ``msg`` is fal's:

- ``file_download_error``: the bytes could not be obtained (as for images).
- ``file_too_large``: over ``MAX_VIDEO_BYTES`` (ctx ``max_size``).
- ``unsupported_video_format``: bytes arrived but hold no decodable video stream (an image, a
  text file, a truncated MP4); ctx ``supported_formats``.
- ``video_duration_too_long``: longer than ``MAX_VIDEO_SECONDS`` (ctx ``max_duration``,
  ``provided_duration``).

The types and their sentences are the ones fal's "Model Errors" page documents; that Ray 2
answers exactly these is inferred (no capture). The limits are Luma's for Ray 2 (modify: 10 s,
100 MB).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contracts.schemas.endpoints import MAX_INPUT_VIDEO_SECONDS
from contracts.schemas.geometry import SourceVideo
from mockserver.config import RemoteImages

from .images import ImageInput, InputKind, MediaInputError, load_input

MAX_VIDEO_BYTES = 100 * 1024 * 1024
"""Luma's documented maximum input size for Ray 2 modify (100 MB)."""
MAX_VIDEO_SECONDS = MAX_INPUT_VIDEO_SECONDS
MIN_VIDEO_SECONDS = 1 / 24
SUPPORTED_FORMATS = (".mp4", ".mov", ".webm")
"""``unsupported_video_format``'s ctx and sentence, as fal's docs show them (Ray 2's own
list: INF)."""
VIDEO = InputKind(
    "video",
    ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4"),
    max_bytes=MAX_VIDEO_BYTES,
)
PLACEHOLDER_SOURCE = SourceVideo(width=960, height=540, seconds=5.0)
"""A video that was not fetched stands in as a 540p 16:9 5 s clip, Ray 2's default output."""


@dataclass(frozen=True)
class VideoInput:
    """One video argument: its bytes (None for a placeholder) and what they hold."""

    source: ImageInput
    video: SourceVideo

    @property
    def placeholder(self) -> bool:
        return self.source.data is None


def _unsupported(field: str, url: str, why: str) -> MediaInputError:
    return MediaInputError(
        field,
        "unsupported_video_format",
        f"Unsupported video format. Supported formats are {', '.join(SUPPORTED_FORMATS)}.",
        url,
        ctx={"supported_formats": list(SUPPORTED_FORMATS)},
        why=why,
    )


def _number(seconds: float) -> float | int:
    """A duration as fal writes it in ``ctx``: ``120``, ``7.2`` (what ``{:g}`` prints)."""
    value = float(f"{seconds:g}")
    return int(value) if value.is_integer() else value


def _too_long(field: str, url: str, seconds: float) -> MediaInputError:
    """fal's documented sentence and context (its audio twin is a live capture)."""
    return MediaInputError(
        field,
        "video_duration_too_long",
        f"Video duration exceeds the maximum allowed. Maximum is {MAX_VIDEO_SECONDS:g} seconds,"
        f" provided is {seconds:g} seconds.",
        url,
        ctx={"max_duration": _number(MAX_VIDEO_SECONDS), "provided_duration": _number(seconds)},
    )


def probe_video(field: str, url: str, data: bytes) -> SourceVideo:
    """Size and duration of the first video stream (blocking: PyAV parses the container)."""
    import av  # on first use: only the video-to-video endpoints read a video

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise _unsupported(field, url, "the file holds no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:  # no duration in the headers: the last packet's end is the clip's end
                seconds = 0.0
                for packet in container.demux(stream):
                    if packet.pts is not None and packet.time_base is not None:
                        end = (packet.pts + (packet.duration or 0)) * packet.time_base
                        seconds = max(seconds, float(end))
    except MediaInputError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise _unsupported(field, url, f"not a decodable video ({type(exc).__name__})") from None
    if width <= 0 or height <= 0 or seconds < MIN_VIDEO_SECONDS:
        raise _unsupported(field, url, "the video stream has no frames")
    if seconds > MAX_VIDEO_SECONDS + 1e-6:
        raise _too_long(field, url, seconds)
    return SourceVideo(width=width, height=height, seconds=round(seconds, 6))


async def load_video_input(
    field: str,
    url: str,
    *,
    remote: RemoteImages,
    resolve_local_url: Callable[[str], Path | None] | None,
) -> VideoInput:
    """Resolve one video argument and read it back; raise MediaInputError if impossible."""
    source = await load_input(
        field, url, remote=remote, resolve_local_url=resolve_local_url, kind=VIDEO
    )
    if source.data is None:
        return VideoInput(source, PLACEHOLDER_SOURCE)
    video = await asyncio.to_thread(probe_video, field, url, source.data)
    return VideoInput(source, video)
