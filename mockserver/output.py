"""What a finished request returns: the rendered video as fal's ``{"video": File}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from mockserver.endpoints import ENDPOINTS
from mockserver.media import MediaInputError, RenderRequest, VideoRenderer
from mockserver.queue import Production
from mockserver.records import RequestRecord
from mockserver.urls import media_url


class VideoProducer:
    """Turns a request into a rendered MP4 (or the fal error its input deserves)."""

    def __init__(self, renderer: VideoRenderer) -> None:
        self.renderer = renderer

    async def __call__(self, record: RequestRecord) -> Production:
        arguments = ENDPOINTS[record.endpoint_id].with_defaults(record.input)
        try:
            video = await self.renderer.render(
                RenderRequest(record.endpoint_id, arguments, record.request_id)
            )
        except MediaInputError as exc:
            kind = exc.detail[0].get("type", "file_download_error") if exc.detail else None
            return Production(
                error={
                    "status_code": exc.status_code,
                    "error_type": kind,
                    "body": {"detail": exc.detail},
                }
            )
        media = {
            "key": video.key,
            "file_name": video.file_name,
            "file_size": video.file_size,
            "content_type": video.content_type,
        }
        return Production(media=media, log_lines=tuple(video.log_lines))


def output_body(request: Request, record: RequestRecord) -> dict[str, Any]:
    media = record.media or {}
    return {
        "video": {
            "url": media_url(request, media["key"]),
            "content_type": media["content_type"],
            "file_name": media["file_name"],
            "file_size": media["file_size"],
        }
    }
