"""Text-to-video rendering: real ffmpeg output read back with PyAV."""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from contracts.schemas.geometry import ASPECT_RATIOS, DURATIONS, RESOLUTIONS
from mockserver.media import RenderedVideo, RenderRequest, VideoRenderer
from tests.support import FRAMES, expected_size

T2V = "fal-ai/luma-dream-machine/ray-2"
ALL_COMBOS = list(itertools.product(ASPECT_RATIOS, RESOLUTIONS, DURATIONS))
# Every geometry at 5s plus a 9s sample touching each resolution, to keep `make test` short on a
# 2-core machine; RAY2_MEDIA_FULL=1 renders all 36 combinations.
NINE_SECOND_SAMPLE = [("16:9", "540p"), ("9:21", "540p"), ("4:3", "720p"), ("3:4", "1080p")]
COMBOS = (
    ALL_COMBOS
    if os.environ.get("RAY2_MEDIA_FULL")
    else [c for c in ALL_COMBOS if c[2] == "5s" or c[:2] in NINE_SECOND_SAMPLE]
)


def request(prompt: str = "a red fox in snow", request_id: str = "req-1", **kw: object):
    args = {"prompt": prompt, "aspect_ratio": "16:9", "resolution": "540p", "duration": "5s"}
    args["loop"] = False
    args.update(kw)
    return RenderRequest(endpoint_id=T2V, arguments=args, request_id=request_id)


def probe(path: Path) -> dict:
    """Stream facts without decoding: codec, format, size, rate, packets, durations."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = sum(1 for p in container.demux(stream) if p.size)
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "rate": stream.average_rate,
            "packets": packets,
            "stream_frames": stream.frames,
            "duration": container.duration / 1_000_000,
            "audio_streams": len(container.streams.audio),
        }


def frames(path: Path, wanted: set[int] | None = None) -> dict[int, Image.Image]:
    with av.open(str(path)) as container:
        return {
            i: f.to_image()
            for i, f in enumerate(container.decode(video=0))
            if wanted is None or i in wanted
        }


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def top_level_atoms(path: Path) -> list[str]:
    names, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        names.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return names


@pytest.fixture(scope="module")
def all_combos(shared_media_cache: Path) -> dict[tuple, RenderedVideo]:
    """Every aspect × resolution × duration, rendered once per session (2 workers) into the
    cache the integration tests share, so the API-level geometry test reuses these files."""

    async def go() -> dict[tuple, RenderedVideo]:
        renderer = VideoRenderer(shared_media_cache, max_workers=2)
        try:
            videos = await asyncio.gather(
                *(
                    renderer.render(request(aspect_ratio=a, resolution=r, duration=d))
                    for a, r, d in COMBOS
                )
            )
        finally:
            await renderer.aclose()
        return dict(zip(COMBOS, videos, strict=True))

    return asyncio.run(go())


@pytest.fixture
async def renderer(tmp_path: Path) -> Iterator[VideoRenderer]:
    r = VideoRenderer(tmp_path / "media", max_workers=2)
    yield r
    await r.aclose()


@pytest.mark.parametrize("combo", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_geometry_reads_back(all_combos: dict, combo: tuple[str, str, str]) -> None:
    aspect, res, dur = combo
    video = all_combos[combo]
    facts = probe(video.path)
    frame_count = FRAMES[dur]
    assert facts["codec"] == "h264"
    assert facts["pix_fmt"] == "yuv420p"
    assert facts["size"] == expected_size(aspect, res)  # the documented rule, not our table
    assert facts["rate"] == 24
    assert facts["packets"] == frame_count == facts["stream_frames"]
    assert abs(facts["duration"] - frame_count / 24) <= 1 / 24
    assert facts["audio_streams"] == 0
    assert video.file_size == video.path.stat().st_size > 0
    assert (video.content_type, video.file_name) == ("video/mp4", "output.mp4")
    atoms = top_level_atoms(video.path)
    assert atoms.index("moov") < atoms.index("mdat"), "faststart: moov must precede mdat"


def test_all_combos_have_distinct_keys(all_combos: dict) -> None:
    assert len({v.key for v in all_combos.values()}) == len(COMBOS)


async def test_same_input_gives_byte_identical_file(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        r = VideoRenderer(tmp_path / name)
        try:
            video = await r.render(request(request_id=f"req-{name}"))
        finally:
            await r.aclose()
        digests.append((video.key, video.path.read_bytes()))
    assert digests[0] == digests[1]


async def test_cached_repeat_is_free_and_ignores_request_id(renderer: VideoRenderer) -> None:
    first = await renderer.render(request(request_id="one"))
    assert renderer.renders_started == 1
    for i in range(5):  # no ffmpeg run for any of them: renders_started stays at one
        again = await renderer.render(request(request_id=f"two-{i}"))
    assert (again.key, again.path, again.file_size) == (first.key, first.path, first.file_size)
    assert renderer.renders_started == 1
    assert any("reused cached render" in line for line in again.log_lines)
    assert any(line.startswith("rendered 960x540 120-frame clip") for line in first.log_lines)


async def test_a_cached_text_render_is_found_without_a_coroutine(
    renderer: VideoRenderer, tmp_path: Path
) -> None:
    """``cached`` answers what ``render`` answers for a cached text-only request, and None
    for one never rendered, one that reads an image, or a file gone from the cache."""
    assert renderer.cached(request()) is None
    await renderer.render(request(request_id="one"))
    rendered = await renderer.render(request(request_id="two"))
    found = renderer.cached(request(request_id="three"))
    assert found == rendered
    assert renderer.cached(request("another prompt")) is None
    image = tmp_path / "in.png"
    Image.new("RGB", (64, 64), "red").save(image)
    with_image = request(image_url=image.as_uri())
    i2v = RenderRequest(f"{T2V}/image-to-video", with_image.arguments, "req-i2v")
    assert renderer.cached(i2v) is None
    rendered.path.unlink()
    assert renderer.cached(request()) is None
    assert renderer.renders_started == 1


async def test_cache_survives_a_new_renderer(tmp_path: Path) -> None:
    r1 = VideoRenderer(tmp_path)
    first = await r1.render(request())
    await r1.aclose()
    r2 = VideoRenderer(tmp_path)
    try:
        again = await r2.render(request())
        assert again.path == first.path and r2.renders_started == 0
    finally:
        await r2.aclose()


async def test_different_prompts_look_different(renderer: VideoRenderer) -> None:
    a = await renderer.render(request("a red fox in snow"))
    b = await renderer.render(request("neon city at night, rain"))
    assert a.key != b.key
    fa, fb = frames(a.path, {0})[0], frames(b.path, {0})[0]
    assert mean_abs_diff(fa, fb) > 5


async def test_motion_and_loop(renderer: VideoRenderer) -> None:
    """Visible motion always; last ≈ first only with loop=true (measured, mean abs diff 0-255)."""
    results = {}
    for loop in (True, False):
        video = await renderer.render(request(loop=loop))
        got = frames(video.path, {0, 60, 119})
        results[loop] = (mean_abs_diff(got[0], got[60]), mean_abs_diff(got[0], got[119]))
    (loop_mid, loop_end), (once_mid, once_end) = results[True], results[False]
    assert loop_mid > 3 and once_mid > 3, "frames must move"
    assert loop_end < 1.0, f"loop=true: last frame differs from first by {loop_end:.2f}"
    assert once_end > 3, f"loop=false: last frame too close to first ({once_end:.2f})"


async def test_concurrent_identical_requests_render_once(renderer: VideoRenderer) -> None:
    videos = await asyncio.gather(*(renderer.render(request(request_id=f"r{i}")) for i in range(6)))
    assert renderer.renders_started == 1
    assert len({(v.key, v.path) for v in videos}) == 1
    joined = [v for v in videos if any("joined an identical render" in x for x in v.log_lines)]
    assert len(joined) == 5


async def test_rendering_does_not_block_the_event_loop(renderer: VideoRenderer) -> None:
    """Ticks of a 10 ms timer keep coming while a 1080p file renders.

    Blocking would stall the loop for the whole render; the bound leaves room for a loaded machine.
    """
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop))
    await renderer.render(request(resolution="1080p"))
    stop.set()
    await tick
    # A render run on the loop would leave the ticker one turn at most; off the loop it ticks
    # all along (no time bound: a loaded machine slows both alike).
    assert ticks >= 5, f"the loop turned {ticks} times during a whole render"


@pytest.mark.parametrize(
    "prompt",
    ["", "猫が雪の中を走る 🦊🎬 — ünïcödé", "x" * 5000, "word " * 1000, "line\nbreaks\ttabs"],
)
async def test_awkward_prompts_render_quickly(renderer: VideoRenderer, prompt: str) -> None:
    video = await renderer.render(request(prompt))
    assert probe(video.path)["packets"] == 120


async def test_files_are_written_atomically(renderer: VideoRenderer) -> None:
    video = await renderer.render(request())
    leftovers = [p.name for p in renderer.media_dir.iterdir() if p != video.path]
    assert leftovers == []


def test_stray_temp_files_are_swept(tmp_path: Path) -> None:
    (tmp_path / ".tmp-abc-123.mp4").write_bytes(b"half")
    (tmp_path / ".tmp-def").mkdir()
    (tmp_path / ".tmp-def" / "still.png").write_bytes(b"x")
    long_ago = time.time() - 24 * 3600  # young temps may be another process's render in progress
    for stray in tmp_path.iterdir():
        os.utime(stray, (long_ago, long_ago))
    asyncio.run(VideoRenderer(tmp_path).aclose())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "..", "", "/etc/passwd", "0" * 31, "0" * 33, "G" * 32, "0" * 31 + "/"],
)
async def test_path_for_key_refuses_non_keys(renderer: VideoRenderer, key: str) -> None:
    assert renderer.path_for_key(key) is None


async def test_path_for_key_finds_rendered_files_only(renderer: VideoRenderer) -> None:
    video = await renderer.render(request())
    assert renderer.path_for_key(video.key) == video.path
    assert renderer.path_for_key("0" * 32) is None


async def test_render_after_close_is_refused(tmp_path: Path) -> None:
    r = VideoRenderer(tmp_path)
    await r.aclose()
    with pytest.raises(RuntimeError):
        await r.render(request())


async def test_an_encode_about_to_start_when_the_renderer_closes_never_runs(
    tmp_path: Path,
) -> None:
    """A render still drawing its stills when the server stops has no ffmpeg to kill yet: its
    encode must not start after the close, or shutdown waits for the whole encode."""
    r = VideoRenderer(tmp_path)
    await r.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        r._run_ffmpeg(["sleep", "30"])  # the step after the stills
    assert not r._procs


def test_a_render_cut_short_at_shutdown_leaves_no_unretrieved_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing kills ffmpeg under a waiting request and the loop ends right after (server
    shutdown): that failure is expected, not an "exception was never retrieved" report."""
    import gc

    async def serve_then_stop() -> None:
        renderer = VideoRenderer(tmp_path / "media")
        caller = asyncio.create_task(
            renderer.render(request(prompt="cut short", resolution="1080p"))
        )
        while not renderer._procs:  # ffmpeg is running
            await asyncio.sleep(0.01)
        caller.cancel()  # what stopping the queue does to a production in flight
        await renderer.aclose()

    asyncio.run(serve_then_stop())
    gc.collect()
    assert "never retrieved" not in caplog.text
