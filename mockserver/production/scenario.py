"""The model as scenarios see it: render, or fail with a given error, or return a given file.

Wraps the real producer (``production.video.VideoProducer``). A request whose scenario names
an error completes with that error and renders nothing (a retried request: for the attempts
the error fails, then it renders); one that names an output file gets that file, copied
into the media directory under a content hash so the usual video URL serves
it. Every output asked of the renderer is counted for the metrics (renders started vs. cache
hits).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from contracts.schemas.endpoints import per_second
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.media import MediaInputError
from mockserver.media.cache import cache_key
from mockserver.media.videos import probe_video
from mockserver.observation.metrics import Metrics
from mockserver.queue import Producer, Production, produced_at_once
from mockserver.records import RequestRecord

CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def install_output(media_dir: Path, source: Path) -> str:
    """Copy ``source`` into the media directory (atomically, once); return its media key."""
    key = cache_key({"custom_output": _file_digest(source)})
    final = media_dir / f"{key}.mp4"
    if not final.is_file():
        media_dir.mkdir(parents=True, exist_ok=True)
        temp = media_dir / f".tmp-{key}-{uuid.uuid4().hex}.mp4"
        shutil.copyfile(source, temp)
        os.replace(temp, final)
    return key


def _per_second_units(record: RequestRecord, output: Path) -> int | None:
    """A per-second price bills the input video's seconds; a given output stands in for the
    model, so its own duration is the one billed (reframe and modify keep the duration)."""
    endpoint = ENDPOINTS.get(record.endpoint_id)
    if endpoint is None or not per_second(record.endpoint_id):
        return None
    try:
        seconds = probe_video("video", str(output), output.read_bytes()).seconds
    except MediaInputError:
        return None  # not a video: nothing to measure, the submit's units stand
    return endpoint.cost_units(endpoint.validation_of(record), seconds=seconds)


def _scenario_error(record: RequestRecord) -> Production | None:
    """The error a scenario makes this attempt fail with (None: the model answers)."""
    scenario: dict[str, Any] = record.scenario or {}
    failing = scenario.get("error_attempts")
    if scenario.get("error") and (failing is None or record.attempt <= failing):
        return Production(error=scenario["error"])
    return None


class ScenarioProducer:
    def __init__(self, inner: Producer, media_dir: Path, metrics: Metrics) -> None:
        self.inner = inner
        self.media_dir = media_dir
        self.metrics = metrics

    async def __call__(self, record: RequestRecord) -> Production:
        scenario: dict[str, Any] = record.scenario or {}
        if (failed := _scenario_error(record)) is not None:
            return failed
        output = scenario.get("output")
        if output:
            source = Path(output["video"])
            key = await asyncio.to_thread(install_output, self.media_dir, source)
            media = {
                "key": key,
                "file_name": output.get("file_name") or source.name,
                "file_size": source.stat().st_size,
                "content_type": output.get("content_type") or "video/mp4",
            }
            units = await asyncio.to_thread(_per_second_units, record, source)
            return Production(media=media, notes=(f"custom output {source.name}",), units=units)
        self.metrics.productions += 1
        return await self.inner(record)

    def ready(self, record: RequestRecord) -> Production | None:
        """``__call__`` at once where it needs no coroutine: a scenario's error, or an output
        the inner producer already has (counted once: here, or by ``__call__``)."""
        if (failed := _scenario_error(record)) is not None:
            return failed
        if (record.scenario or {}).get("output"):
            return None  # copied into the media directory in a thread
        production = produced_at_once(self.inner, record)
        if production is not None:
            self.metrics.productions += 1
        return production
