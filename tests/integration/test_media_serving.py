"""Serving rendered videos: headers, Range, conditional GET, 404s, traversal; then a real player."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import av
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from mockserver.media import RenderedVideo, RenderRequest, VideoRenderer
from mockserver.production.video import serve_video

T2V = "fal-ai/luma-dream-machine/ray-2"


def make_app(renderer: VideoRenderer) -> Starlette:
    app = Starlette(
        routes=[
            Route("/files/mock/{key}", serve_video, methods=["GET", "HEAD"]),
            # A deliberately loose route: the renderer must still refuse anything but a key.
            Route("/loose/{key:path}", serve_video, methods=["GET", "HEAD"]),
        ]
    )
    app.state.services = SimpleNamespace(renderer=renderer)  # all serve_video reads
    return app


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RenderedVideo]]:
    media_dir = tmp_path_factory.mktemp("served")

    async def go() -> RenderedVideo:
        r = VideoRenderer(media_dir)
        try:
            args = {"prompt": "served", "aspect_ratio": "16:9", "resolution": "540p"}
            return await r.render(RenderRequest(T2V, {**args, "duration": "5s"}, "req"))
        finally:
            await r.aclose()

    yield media_dir, asyncio.run(go())


@pytest.fixture
async def client(rendered: tuple[Path, RenderedVideo]) -> AsyncIterator[httpx.AsyncClient]:
    renderer = VideoRenderer(rendered[0])
    transport = httpx.ASGITransport(app=make_app(renderer))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as c:
        yield c
    await renderer.aclose()


def url(video: RenderedVideo, suffix: str = ".mp4") -> str:
    return f"/files/mock/{video.key}{suffix}"


async def test_full_get_has_the_headers(client, rendered) -> None:
    video = rendered[1]
    body = video.path.read_bytes()
    for suffix in (".mp4", ""):
        resp = await client.get(url(video, suffix))
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "video/mp4"
        assert resp.headers["content-length"] == str(video.file_size)
        assert resp.headers["accept-ranges"] == "bytes"
        assert resp.headers["etag"] == f'"{video.key}"'
        assert resp.content == body


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None)],
)
async def test_single_range_gives_206(client, rendered, header, start, end) -> None:
    video = rendered[1]
    body = video.path.read_bytes()
    size = len(body)
    first = start % size
    last = size - 1 if end is None else end
    resp = await client.get(url(video), headers={"Range": header})
    assert resp.status_code == 206
    assert resp.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert resp.headers["content-length"] == str(last - first + 1)
    assert resp.content == body[first : last + 1]


async def test_unsatisfiable_range_gives_416(client, rendered) -> None:
    video = rendered[1]
    resp = await client.get(url(video), headers={"Range": f"bytes={video.file_size}-"})
    assert resp.status_code == 416
    assert resp.headers["content-range"] == f"bytes */{video.file_size}"


async def test_if_range_with_a_stale_etag_gives_the_whole_file(client, rendered) -> None:
    video = rendered[1]
    resp = await client.get(url(video), headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert resp.status_code == 200 and len(resp.content) == video.file_size
    fresh = {"Range": "bytes=0-9", "If-Range": f'"{video.key}"'}
    resp = await client.get(url(video), headers=fresh)
    assert resp.status_code == 206 and len(resp.content) == 10


async def test_if_none_match_gives_304(client, rendered) -> None:
    video = rendered[1]
    resp = await client.get(url(video), headers={"If-None-Match": f'"{video.key}"'})
    assert resp.status_code == 304 and resp.content == b""
    assert resp.headers["etag"] == f'"{video.key}"'


async def test_head_sends_headers_only(client, rendered) -> None:
    video = rendered[1]
    resp = await client.head(url(video))
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-length"] == str(video.file_size)


@pytest.mark.parametrize(
    "path",
    [
        "/files/mock/" + "0" * 32 + ".mp4",
        "/files/mock/not-a-key.mp4",
        "/loose/%2e%2e/%2e%2e/etc/passwd",
        "/loose/..%2f..%2fetc%2fpasswd",
        "/loose/" + "0" * 32 + "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
async def test_unknown_or_traversing_paths_give_fal_404(client, path) -> None:
    resp = await client.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "File not found"}


async def test_traversal_to_a_real_file_next_to_the_cache_is_refused(client, rendered) -> None:
    secret = rendered[0].parent / "secret.txt"
    secret.write_text("no")
    # Percent-encoded, so the dots survive client-side normalisation and reach serve_video.
    resp = await client.get("/loose/%2e%2e/secret.txt")
    assert resp.status_code == 404
    assert resp.json() == {"detail": "File not found"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(rendered) -> Iterator[str]:
    """uvicorn on a real loopback socket, for a real player (PyAV/ffmpeg's HTTP demuxer)."""
    renderer = VideoRenderer(rendered[0])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(renderer), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    asyncio.run(renderer.aclose())


def test_a_player_can_stream_and_seek_over_http(live_server, rendered) -> None:
    video = rendered[1]
    with av.open(f"{live_server}{url(video)}") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (960, 540)
        container.seek(int(3.0 / stream.time_base), stream=stream)  # Range request underneath
        frame = next(container.decode(stream))
        assert frame.time is not None and frame.time <= 3.0
