"""Synthetic Ray 2 media: geometry tables, ffmpeg rendering, input images, cache, serving."""

from .geometry import VideoSpec, video_spec
from .images import MediaInputError
from .render import RenderedVideo, RenderRequest, VideoRenderer

__all__ = [
    "MediaInputError",
    "RenderRequest",
    "RenderedVideo",
    "VideoRenderer",
    "VideoSpec",
    "video_spec",
]
