"""A real app's pipeline, offline end to end: an image model (FLUX) makes the first frame, its
URL goes to Ray 2 image-to-video, the video is downloaded. Unmodified programs: fal_client
sync and async under the pytest fixture, fal_client and @fal-ai/client under `ray2-mock env`.

Expected values: FLUX's ``landscape_16_9`` is 1024x576 (fal's toolkit presets), Ray 2's
default 540p 16:9 5 s clip is 960x540 and 120 frames at 24 fps (docs/fidelity.md's geometry),
and the frame is read for real: no placeholder note on the Ray 2 request.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from mockserver.serving.server import ServerInfo
from tests.node_client import JS_DIR, NODE, NODE_MISSING, ensure_js_client
from tests.support import env_exports, serve_process, unrouted_env

pytest_plugins = ["pytester"]

FIXTURE_PIPELINE = """
import httpx, pytest, fal_client

FLUX = "fal-ai/flux/dev"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
FRAME = {"prompt": "a fox", "image_size": "landscape_16_9"}


def check(ray2_mock, image, video):
    assert (image["width"], image["height"]) == (1024, 576)
    assert httpx.get(video["url"]).headers["content-type"] == "video/mp4"
    assert any(e["endpoint_id"] == I2V for e in ray2_mock.journal)
    notes = [n for e in ray2_mock.journal for n in e.get("emulator_notes") or []]
    assert not [n for n in notes if "placeholder" in n], notes


def test_sync_pipeline(ray2_mock):
    image = fal_client.subscribe(FLUX, arguments=FRAME)["images"][0]
    clip = {"prompt": "it runs", "image_url": image["url"]}
    video = fal_client.subscribe(I2V, arguments=clip)["video"]
    check(ray2_mock, image, video)


@pytest.mark.asyncio
async def test_async_pipeline(ray2_mock):
    image = (await fal_client.subscribe_async(FLUX, arguments=FRAME))["images"][0]
    clip = {"prompt": "it runs", "image_url": image["url"]}
    handle = await fal_client.submit_async(I2V, arguments=clip)
    video = (await handle.get())["video"]
    check(ray2_mock, image, video)
"""

PROGRAM = """
import json, httpx, fal_client
frame = fal_client.subscribe("fal-ai/flux/dev",
                             arguments={"prompt": "a fox", "image_size": "landscape_16_9"})
image = frame["images"][0]
clip = fal_client.subscribe("fal-ai/luma-dream-machine/ray-2/image-to-video",
                            arguments={"prompt": "it runs", "image_url": image["url"]})
video = httpx.get(clip["video"]["url"], timeout=30)
print(json.dumps({"image": image, "video": clip["video"], "type": video.headers["content-type"],
                  "bytes": video.content.hex()}))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, Path]]:
    state = tmp_path_factory.mktemp("pipeline") / "state"
    with serve_process(state) as info:
        yield info, state


def geometry(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, stream.frames


def placeholder_notes(info: ServerInfo) -> list[str]:
    entries = httpx.get(f"{info.url}/_mock/journal").json()["entries"]
    i2v = [
        e for e in entries if e["endpoint_id"] == "fal-ai/luma-dream-machine/ray-2/image-to-video"
    ]
    assert i2v, "the image-to-video request is not in the journal"
    notes = [note for entry in entries for note in entry.get("emulator_notes") or []]
    return [note for note in notes if "placeholder" in note]


def test_the_pipeline_under_the_pytest_fixture_sync_and_async(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_pipeline_of_a_user=FIXTURE_PIPELINE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def run_routed(state: Path, *command: str) -> dict[str, Any]:
    shell = f'{env_exports(state)}\nexec "$@"'
    done = subprocess.run(
        ["sh", "-c", shell, "sh", *command],
        env=unrouted_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_pipeline_of_an_unmodified_fal_client_program_through_env_mode(
    served: tuple[ServerInfo, Path],
) -> None:
    info, state = served
    seen = run_routed(state, sys.executable, "-c", PROGRAM)
    assert seen["image"]["url"].startswith("https://v3b.fal.media/files/b/")
    assert (seen["image"]["width"], seen["image"]["height"]) == (1024, 576)
    assert seen["type"] == "video/mp4"
    assert geometry(bytes.fromhex(seen["bytes"])) == (960, 540, 120)
    assert placeholder_notes(info) == []


@pytest.mark.node
@pytest.mark.skipif(NODE is None, reason=NODE_MISSING)
def test_the_pipeline_of_an_unmodified_node_program_through_env_mode(
    served: tuple[ServerInfo, Path],
) -> None:
    ensure_js_client()
    info, state = served
    seen = run_routed(state, NODE or "node", str(JS_DIR / "pipeline.mjs"))
    assert seen["image"]["url"].startswith("https://v3b.fal.media/files/b/")
    assert (seen["image"]["width"], seen["image"]["height"]) == (1024, 576)
    video = seen["video"]
    assert seen["download"] == {"status": 200, "type": "video/mp4", "bytes": video["file_size"]}
    assert placeholder_notes(info) == []
    assert os.path.basename(video["url"]).endswith("_output.mp4")
