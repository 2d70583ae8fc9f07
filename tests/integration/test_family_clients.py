"""The unmodified official clients drive every Ray 2 family endpoint: subscribe, queue, run.

Reframe and modify are fed a clip the emulator generated earlier, downloaded and uploaded
again through the client's own storage upload (``fal_client.upload_file``; JS
``fal.storage.upload``). Every output is read back (PyAV) for size, frame rate and duration,
against the ledger's rules (``tests.support.expected_video``) and, for reframe and modify, the
uploaded clip as read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from contracts.schemas.endpoints import ENDPOINT_FACTS
from contracts.schemas.geometry import SourceVideo
from contracts.server.mp4probe import probe
from contracts.server.sources import read_source
from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.browser_proxy import PROXY_PATH
from tests.node_client import clean_env, drive, ensure_js_client, node_test, ok
from tests.support import CDN_FILE_PATH, expected_video, make_config, route_storage

T2V = "fal-ai/luma-dream-machine/ray-2"
SOURCE_INPUT = {"prompt": "family source clip", "aspect_ratio": "16:9"}
INPUTS: dict[str, dict[str, Any]] = {
    "generate": {"prompt": "family via the official clients", "aspect_ratio": "9:16"},
    "reframe": {"video_url": "$VIDEO", "aspect_ratio": "1:1", "prompt": "square it"},
    "modify": {"video_url": "$VIDEO", "mode": "reimagine_1", "prompt": "make it a painting"},
}
"""One input per render rule; ``$VIDEO`` is the uploaded clip."""


def input_for(endpoint: str, video_url: str) -> dict[str, Any]:
    template = INPUTS[ENDPOINT_FACTS[endpoint].render]
    return {k: video_url if v == "$VIDEO" else v for k, v in template.items()}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path_factory.mktemp("family-clients"))) as running:
        yield running


@pytest.fixture
def fal(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    """fal_client with its queue, run, REST and CDN URLs on the emulator (storage included)."""
    return route_storage(monkeypatch, emulator.url)


@pytest.fixture(scope="module")
def uploaded(emulator: BackgroundEmulator, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A clip the emulator generated, downloaded and uploaded again with fal_client."""
    with pytest.MonkeyPatch.context() as patch:
        client = route_storage(patch, emulator.url)
        source = client.subscribe(T2V, arguments=SOURCE_INPUT)["video"]["url"]
        path = tmp_path_factory.mktemp("clip") / "source.mp4"
        path.write_bytes(httpx.get(source, timeout=30).content)
        url = client.upload_file(path)
    assert CDN_FILE_PATH.search(url)["name"] == "source.mp4" and url != source
    return url


def expected(endpoint: str, arguments: dict[str, Any], source: SourceVideo | None) -> tuple:
    """The documented sizes and the ledger's reframe/modify rules, restated in tests.support."""
    clip = (source.width, source.height, source.seconds) if source else None
    width, height, frames = expected_video(endpoint, arguments, clip)
    return width, height, 24, round(frames / 24, 3)


def read_back(video: dict[str, Any], path: Path) -> tuple:
    response = httpx.get(video["url"], timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    path.write_bytes(response.content)
    assert video["file_size"] == len(response.content)
    facts = probe(path, decode=False)
    return facts.width, facts.height, round(facts.fps), round(facts.frames / facts.fps, 3)


@pytest.mark.parametrize("endpoint", list(ENDPOINT_FACTS))
def test_fal_client_subscribe_queue_and_run(
    fal: fal_client.SyncClient, uploaded: str, endpoint: str, tmp_path: Path
) -> None:
    arguments = input_for(endpoint, uploaded)
    updates: list[fal_client.Status] = []
    subscribed = fal.subscribe(
        endpoint, arguments=arguments, with_logs=True, on_queue_update=updates.append
    )
    handle = fal.submit(endpoint, arguments=arguments)
    queued = handle.get()
    assert isinstance(handle.status(), fal_client.Completed)
    ran = fal.run(endpoint, arguments=arguments)
    messages = [line["message"] for u in updates for line in (getattr(u, "logs", None) or [])]
    assert any(m.startswith("Starting generation") for m in messages), messages

    source = read_source(uploaded) if "video_url" in arguments else None
    want = expected(endpoint, arguments, source)
    urls = set()
    for way, output in (("subscribe", subscribed), ("queue", queued), ("run", ran)):
        assert set(output) == {"video"}, way
        assert read_back(output["video"], tmp_path / f"{way}.mp4") == want, way
        urls.add(output["video"]["url"])
    assert len(urls) == 3  # each generation its own CDN file


@node_test
def test_js_client_subscribe_queue_and_run(emulator: BackgroundEmulator, tmp_path: Path) -> None:
    ensure_js_client()
    calls = [{"endpoint": e, "input": input_for(e, "$VIDEO")} for e in ENDPOINT_FACTS]
    seen = ok(
        drive(emulator.url + PROXY_PATH, "family", env=clean_env(FAMILY=json.dumps(calls))),
        "family",
    )
    assert CDN_FILE_PATH.search(seen["uploaded"]) and seen["uploaded"] != seen["source"]
    source = read_source(seen["uploaded"])
    assert (source.width, source.height, round(source.seconds)) == (960, 540, 5)
    assert set(seen["results"]) == set(ENDPOINT_FACTS)
    for endpoint, result in seen["results"].items():
        assert result["finalStatus"] == "COMPLETED", endpoint
        assert all(result["requestIds"]), endpoint
        want = expected(endpoint, result["input"], source)
        for way in ("subscribe", "queue", "run"):
            got = read_back(result[way], tmp_path / f"{way}.mp4")
            assert got == want, (endpoint, way)
