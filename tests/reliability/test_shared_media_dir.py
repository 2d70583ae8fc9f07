"""Several emulators (or `serve --workers N`) share one content-addressed media directory.

A renderer starting up sweeps the temp files crashed renders left behind. It used to sweep
*every* temp entry, including the working directory of a render another process was running
at that moment: that render then failed ("Error writing trailer: No such file or directory")
and its request completed as a 500. Found by the schemathesis suite, whose two servers share
the session's media cache.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from mockserver.fal.endpoints import ENDPOINTS
from mockserver.media import RenderRequest, VideoRenderer
from mockserver.media.cache import DiskCache

T2V = "fal-ai/luma-dream-machine/ray-2"


def test_a_second_cache_leaves_a_live_temp_alone_and_sweeps_a_stale_one(tmp_path: Path) -> None:
    first = DiskCache(tmp_path)
    live = first.temp_path("0" * 32).with_suffix("")
    live.mkdir()
    (live / "out.mp4").write_bytes(b"being written")
    stale = first.temp_path("1" * 32)
    stale.write_bytes(b"left by a crash long ago")
    long_ago = time.time() - 24 * 3600
    os.utime(stale, (long_ago, long_ago))

    DiskCache(tmp_path)  # another process starting on the same directory

    assert (live / "out.mp4").read_bytes() == b"being written"
    assert not stale.exists()


async def test_a_render_survives_another_renderer_starting_on_its_directory(
    tmp_path: Path,
) -> None:
    busy = VideoRenderer(tmp_path)
    args = ENDPOINTS[T2V].with_defaults({"prompt": "shared media dir"})
    render = asyncio.create_task(busy.render(RenderRequest(T2V, args, "r1")))
    try:

        async def working() -> None:  # the render's working directory exists now
            while not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir()):
                await asyncio.sleep(0.005)

        await asyncio.wait_for(working(), 60)
        newcomer = VideoRenderer(tmp_path)
        video = await asyncio.wait_for(render, 120)
        assert video.path.is_file() and video.file_size > 0
        await newcomer.aclose()
    finally:
        await busy.aclose()
