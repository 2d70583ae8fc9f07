"""Synthetic Ray 2 media: geometry tables, ffmpeg rendering, input images, cache, serving."""

from contracts.schemas.geometry import VideoSpec, video_spec

from .images import MediaInputError
from .render import RenderedVideo, RenderRequest, VideoRenderer
from .serving import cached_file_response

__all__ = [
    "MediaInputError",
    "RenderRequest",
    "RenderedVideo",
    "VideoRenderer",
    "VideoSpec",
    "cached_file_response",
    "video_spec",
]
