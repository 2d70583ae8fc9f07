"""The output a client downloads: the MP4 behind ``video.url``, judged against the promise.

The promise is the endpoint's geometry (``contracts.schemas.geometry``): frame size, frame rate
and duration from the arguments, or, for reframe and modify, from the input video read back.
PyAV (``contracts.server.mp4probe``) reads the file; it is imported only when a video is checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from contracts.schemas.geometry import VideoSpec
from contracts.server.checks import VIDEO_CONTENT_TYPE, ContractViolation, expect

if TYPE_CHECKING:
    from contracts.server.mp4probe import VideoFacts

DURATION_TOLERANCE_S = 0.5
FPS_TOLERANCE = 0.5


def expected_spec(
    endpoint_id: str | None,
    arguments: Mapping[str, Any],
    *,
    http: httpx.Client | None = None,
    workdir: Path | None = None,
) -> VideoSpec:
    """The output an endpoint promises for ``arguments``: from the geometry tables, or, for
    reframe and modify, from the input video, read back (``contracts.server.sources``)."""
    from contracts.schemas.endpoints import ENDPOINT_FACTS
    from contracts.schemas.geometry import output_spec

    facts = ENDPOINT_FACTS.get(endpoint_id or "")
    if facts is None or facts.render == "generate":
        return output_spec("generate", arguments)
    from contracts.server.sources import read_source

    source = read_source(str(arguments[facts.video_fields[0]]), http, workdir)
    return output_spec(facts.render, arguments, source)


def check_video(
    output: Mapping[str, Any],
    arguments: Mapping[str, Any],
    *,
    http: httpx.Client,
    workdir: Path | None = None,
    endpoint_id: str | None = None,
) -> None:
    """The video URL downloads and is an MP4 of the promised geometry and duration
    (``endpoint_id`` picks the rule: reframe and modify follow their input video)."""
    video = output["video"]
    content = _download(http, video)
    _check_file_fields(video, content)
    spec = expected_spec(endpoint_id, arguments, http=http, workdir=workdir)
    _check_geometry(_probe(content, workdir), spec, arguments)


def _download(http: httpx.Client, video: Mapping[str, Any]) -> bytes:
    """The bytes behind ``video.url``, served as an MP4."""
    response = http.get(video["url"], timeout=120, follow_redirects=True)
    expect(
        response.status_code == 200,
        "video.download",
        "the video URL does not download",
        expected=200,
        observed={"status": response.status_code, "url": video["url"]},
    )
    kind = response.headers.get("content-type", "").split(";")[0]
    expect(
        kind == VIDEO_CONTENT_TYPE,
        "video.content_type",
        "served with the wrong type",
        expected=VIDEO_CONTENT_TYPE,
        observed=kind,
    )
    return response.content


def _check_file_fields(video: Mapping[str, Any], content: bytes) -> None:
    """fal's ``File`` fields, where present, describe the bytes served."""
    if "content_type" in video:
        expect(
            video["content_type"] == VIDEO_CONTENT_TYPE,
            "video.content_type",
            "File.content_type",
            expected=VIDEO_CONTENT_TYPE,
            observed=video["content_type"],
        )
    if video.get("file_size") is not None:
        expect(
            video["file_size"] == len(content),
            "video.file_size",
            "File.file_size differs from the bytes served",
            expected=len(content),
            observed=video["file_size"],
        )


def _probe(content: bytes, workdir: Path | None) -> VideoFacts:
    """What the MP4 holds (``contracts.server.mp4probe``), or the violation of not being one."""
    from contracts.server.mp4probe import probe  # PyAV: only output checks need it

    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / "output.mp4"
        path.write_bytes(content)
        try:
            return probe(path, decode=False)
        except Exception as exc:  # PyAV raises many types for a broken file
            raise ContractViolation(
                "video.mp4", "not a readable MP4", expected="MP4", observed=repr(exc)
            ) from None


def _check_geometry(facts: VideoFacts, spec: VideoSpec, arguments: Mapping[str, Any]) -> None:
    """Frame size, duration and frame rate as promised (duration and rate within tolerance)."""
    expect(
        (facts.width, facts.height) == (spec.width, spec.height),
        "video.geometry",
        f"wrong frame size for {dict(arguments)}",
        expected={"width": spec.width, "height": spec.height},
        observed={"width": facts.width, "height": facts.height},
    )
    duration = facts.duration or (facts.frames / facts.fps if facts.fps else 0.0)
    expect(
        abs(duration - spec.duration_seconds) <= DURATION_TOLERANCE_S,
        "video.duration",
        "wrong duration",
        expected=spec.duration_seconds,
        observed=round(duration, 3),
    )
    expect(
        abs(facts.fps - spec.fps) <= FPS_TOLERANCE,
        "video.fps",
        "wrong frame rate",
        expected=spec.fps,
        observed=facts.fps,
    )
