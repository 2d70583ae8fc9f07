"""What an endpoint answered by rule returns: an output made from its output type.

Every endpoint of fal's catalogue that the table does not hold exactly gets its output from
``synthesis``: real images, audio, clips and files of the requested size, text and numbers
deterministic per request. Its files are kept in the renders' content-addressed cache and, as
a video is, published as files of their own on the emulated CDN (``OutputPublisher``); the
output holds a reference to each (``ray2-mock-file:<random>``, unguessable, so a request that
echoes a string cannot forge one) until a client reads it, when each becomes that file's URL
on the host the client used (``output_with_urls``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from contracts.schemas import load_schema
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.media import VideoRenderer
from mockserver.queue import Production
from mockserver.records import RequestRecord

FILE_REFERENCE = "ray2-mock-file:"


class SynthesisProducer:
    """Makes a catalogue endpoint's output from its output schema and the request."""

    def __init__(self, renderer: VideoRenderer) -> None:
        self.renderer = renderer

    async def __call__(self, record: RequestRecord) -> Production:
        from mockserver.production.synthesis import synthesise  # a Ray 2 emulator never loads it

        endpoint = ENDPOINTS[record.endpoint_id]
        files: list[dict[str, Any]] = []

        def publish(data: bytes, file_name: str, content_type: str) -> str:
            key = self.renderer.store(data)
            reference = f"{FILE_REFERENCE}{secrets.token_hex(12)}"
            files.append(
                {"key": key, "file_name": file_name, "content_type": content_type, "ref": reference}
            )
            return reference

        async def render_video(
            width: int, height: int, seconds: float, fps: int, label: str
        ) -> bytes:
            clip = await self.renderer.clip(width, height, seconds, fps, label)
            return clip.path.read_bytes()

        notes: list[str] = []
        output = await synthesise(
            load_schema(endpoint.facts.output_schema),
            endpoint.arguments_of(record),
            request_id=record.request_id,
            publish=publish,
            render_video=render_video,
            title=record.endpoint_id,
            notes=notes,
        )
        return Production(media={"output": output, "files": files}, notes=tuple(notes))


def output_with_urls(
    output: Any, files: list[Mapping[str, Any]], url: Callable[[Mapping[str, Any]], str]
) -> Any:
    """The output with each file's reference replaced by ``url(file)``."""
    by_reference = {file["ref"]: file for file in files if "ref" in file}

    def replaced(node: Any) -> Any:
        if isinstance(node, str):
            file = by_reference.get(node)
            return node if file is None else url(file)
        if isinstance(node, dict):
            return {key: replaced(value) for key, value in node.items()}
        if isinstance(node, list):
            return [replaced(item) for item in node]
        return node

    return replaced(output)
