"""The input video of a reframe or modify request, read back as the checks read outputs.

Its size and duration decide the output's geometry (``geometry.output_spec``) and, for a
per-second price, what the request costs; a ``data:`` URI is decoded here, any other URL is
downloaded (the emulator's, or fal's CDN: free to read).
"""

from __future__ import annotations

import base64
import tempfile
import urllib.parse
from pathlib import Path

import httpx

from contracts.schemas.geometry import SourceVideo


def video_bytes(url: str, http: httpx.Client | None = None) -> bytes:
    if url.startswith("data:"):
        header, _, payload = url[len("data:") :].partition(",")
        if ";base64" in header.lower():
            text = "".join(urllib.parse.unquote(payload).split())
            return base64.b64decode(text + "=" * (-len(text) % 4))
        return urllib.parse.unquote_to_bytes(payload)
    response = (http.get if http is not None else httpx.get)(url, timeout=120)
    response.raise_for_status()
    return response.content


def read_source(
    url: str, http: httpx.Client | None = None, workdir: Path | None = None
) -> SourceVideo:
    """Width, height and seconds of the video at ``url``."""
    from contracts.server.mp4probe import probe  # PyAV

    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / "source.mp4"
        path.write_bytes(video_bytes(url, http))
        facts = probe(path, decode=False)
    seconds = facts.duration or (facts.frames / facts.fps if facts.fps else 0.0)
    return SourceVideo(width=facts.width, height=facts.height, seconds=seconds)
