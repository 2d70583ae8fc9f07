"""Image-to-video renders: first/last frames against the inputs, loop, placeholders, errors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from mockserver.fal.catalogue import media_error_detail
from mockserver.media import MediaInputError, RenderRequest, VideoRenderer
from mockserver.media.images import placeholder_image

I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
STORAGE = "http://127.0.0.1:8000/files/storage/"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}
# H.264 at x264's default quality on these flat pictures; a wrong crop or frame is 20+ away.
SAME_PICTURE = 4.0


def data_uri(name: str) -> str:
    path = FIXTURES / name
    return f"data:{MIME[path.suffix]};base64," + base64.b64encode(path.read_bytes()).decode()


def resolve_local(url: str) -> Path | None:
    """What the app supplies: URLs of the mock's own storage map to files."""
    return FIXTURES / url.removeprefix(STORAGE) if url.startswith(STORAGE) else None


def request(**kw: object) -> RenderRequest:
    args = {"prompt": "slow push-in, drifting clouds", "aspect_ratio": "16:9"}
    args |= {"resolution": "540p", "duration": "5s", "loop": False}
    return RenderRequest(I2V, args | kw, "req-i2v")


def expected(name: str, size: tuple[int, int]) -> Image.Image:
    image = Image.open(FIXTURES / name)
    image.seek(0)
    return ImageOps.fit(image.convert("RGB"), size, method=Image.Resampling.BICUBIC)


def frames(path: Path, wanted: set[int]) -> dict[int, Image.Image]:
    with av.open(str(path)) as container:
        return {i: f.to_image() for i, f in enumerate(container.decode(video=0)) if i in wanted}


def mad(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


@pytest.fixture
async def renderer(tmp_path: Path) -> AsyncIterator[VideoRenderer]:
    r = VideoRenderer(tmp_path / "media", resolve_local_url=resolve_local)
    yield r
    await r.aclose()


async def test_first_and_last_frames_are_the_images(renderer: VideoRenderer) -> None:
    video = await renderer.render(
        request(image_url=data_uri("start.png"), end_image_url=STORAGE + "end.jpg")
    )
    got = frames(video.path, {0, 60, 119})
    start, end = expected("start.png", (960, 540)), expected("end.jpg", (960, 540))
    assert mad(got[0], start) < SAME_PICTURE
    assert mad(got[119], end) < SAME_PICTURE
    assert mad(got[60], start) > 10 and mad(got[60], end) > 10, "content moves in between"
    stretched = Image.open(FIXTURES / "start.png").convert("RGB").resize((960, 540))
    assert mad(got[0], stretched) > mad(got[0], start) + 1, "cover-crop, not stretch"


@pytest.mark.parametrize(
    ("name", "aspect"), [("portrait.webp", "9:16"), ("anim.gif", "4:3"), ("alpha.png", "3:4")]
)
async def test_formats_and_aspects(renderer: VideoRenderer, name: str, aspect: str) -> None:
    video = await renderer.render(request(image_url=data_uri(name), aspect_ratio=aspect, loop=True))
    got = frames(video.path, {0, 119})
    size = got[0].size
    first = Image.open(FIXTURES / name)
    first.seek(0)
    flat = Image.new("RGB", first.size)
    rgba = first.convert("RGBA")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    assert mad(got[0], ImageOps.fit(flat, size, method=Image.Resampling.BICUBIC)) < SAME_PICTURE
    assert mad(got[0], got[119]) < 1.0, "loop=true: last frame matches the first"


async def test_image_only_without_loop_ends_elsewhere(renderer: VideoRenderer) -> None:
    video = await renderer.render(request(image_url=STORAGE + "start.png"))
    got = frames(video.path, {0, 119})
    assert mad(got[0], expected("start.png", (960, 540))) < SAME_PICTURE
    assert mad(got[0], got[119]) > 3


async def test_end_image_only(renderer: VideoRenderer) -> None:
    video = await renderer.render(request(end_image_url=data_uri("end.jpg")))
    got = frames(video.path, {0, 119})
    assert mad(got[119], expected("end.jpg", (960, 540))) < SAME_PICTURE
    assert mad(got[0], got[119]) > 10


async def test_end_image_wins_over_loop(renderer: VideoRenderer) -> None:
    video = await renderer.render(
        request(image_url=data_uri("start.png"), end_image_url=data_uri("end.jpg"), loop=True)
    )
    got = frames(video.path, {119})
    assert mad(got[119], expected("end.jpg", (960, 540))) < SAME_PICTURE
    assert "loop ignored: end_image_url sets the last frame" in video.log_lines


async def test_fal_media_url_offline_renders_a_placeholder(renderer: VideoRenderer) -> None:
    url = "https://v3.fal.media/files/rabbit/abc/start.png"
    video = await renderer.render(request(image_url=url))
    assert any("v3.fal.media" in line and "placeholder" in line for line in video.log_lines)
    got = frames(video.path, {0})
    assert mad(got[0], placeholder_image(url, 960, 540)) < SAME_PICTURE
    again = await renderer.render(request(image_url=url))
    assert again.key == video.key and renderer.renders_started == 1
    assert any("placeholder" in line for line in again.log_lines), "cache hits keep the log line"


async def test_same_bytes_same_key_whatever_the_url(renderer: VideoRenderer) -> None:
    a = await renderer.render(request(image_url=data_uri("start.png")))
    b = await renderer.render(request(image_url=STORAGE + "start.png"))
    c = await renderer.render(request(image_url=data_uri("end.jpg")))
    assert a.key == b.key != c.key
    assert renderer.renders_started == 2


async def test_refused_remote_is_a_422_and_nothing_renders(tmp_path: Path) -> None:
    renderer = VideoRenderer(tmp_path / "media", remote_images="fail")
    with pytest.raises(MediaInputError) as info:
        await renderer.render(request(image_url="https://example.com/cat.png"))
    assert media_error_detail(info.value)[0]["type"] == "file_download_error"
    assert media_error_detail(info.value)[0]["loc"] == ["body", "image_url"]
    assert renderer.renders_started == 0
    await renderer.aclose()


async def test_foreign_url_offline_renders_a_placeholder(renderer: VideoRenderer) -> None:
    url = "https://cdn.example.com/users/42/start.png"
    video = await renderer.render(request(image_url=url))
    assert any("placeholder" in line for line in video.log_lines)
    assert mad(frames(video.path, {0})[0], placeholder_image(url, 960, 540)) < SAME_PICTURE


async def test_broken_image_fails_every_waiter_and_is_not_cached(renderer: VideoRenderer) -> None:
    raw = base64.b64encode((FIXTURES / "truncated.png").read_bytes()).decode()
    req = request(end_image_url=f"data:image/png;base64,{raw}")
    waiters = (renderer.render(req) for _ in range(3))
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, MediaInputError) for r in results)
    assert media_error_detail(results[0])[0]["type"] == "image_load_error"
    assert media_error_detail(results[0])[0]["loc"] == ["body", "end_image_url"]
    assert list(renderer.media_dir.iterdir()) == []
    with pytest.raises(MediaInputError):
        await renderer.render(req)


async def test_concurrent_identical_i2v_requests_render_once(renderer: VideoRenderer) -> None:
    req = request(image_url=data_uri("start.png"), end_image_url=data_uri("end.jpg"))
    videos = await asyncio.gather(*(renderer.render(req) for _ in range(5)))
    assert renderer.renders_started == 1 and len({v.path for v in videos}) == 1
