"""Reads an MP4 back with PyAV so checks judge the file itself, not what the server claims."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class VideoFacts:
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int
    duration: float


def probe(path: Path, *, decode: bool = True) -> VideoFacts:
    """Decodes every frame (a file that cannot be fully decoded is not playable), or with
    ``decode=False`` counts the frames' packets, which is enough for geometry checks."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decode:
            frames = sum(1 for _ in container.decode(stream))
        else:
            frames = sum(1 for packet in container.demux(stream) if packet.size)
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        return VideoFacts(
            codec=stream.codec_context.name,
            pix_fmt=str(stream.codec_context.pix_fmt),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(stream.average_rate or 0),
            frames=frames,
            duration=duration,
        )
