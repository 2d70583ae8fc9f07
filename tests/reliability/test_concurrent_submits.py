"""1,000 submits at once across both endpoints: nothing lost, nothing duplicated, all complete.

One in ten goes through the real `fal_client.AsyncClient` (its httpx pool costs the client more
than the server), the rest through raw HTTP with one connection each, so hundreds of sockets are
open at the same moment. Identical inputs per endpoint keep rendering to one (cached) clip each,
so what is exercised is the queue path: ids, store writes, transitions, status and result reads,
for the memory and the SQLite store.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.reliability import rawhttp
from tests.reliability.budget import scaled
from tests.support import TEST_KEY, make_config, route_fal_client

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
REQUESTS = "/fal-ai/luma-dream-machine/requests"
IMAGE = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "start.png"
INPUTS: dict[str, dict[str, Any]] = {
    T2V: {"prompt": "one thousand at once"},
    I2V: {
        "prompt": "one thousand at once",
        "image_url": "data:image/png;base64," + base64.b64encode(IMAGE.read_bytes()).decode(),
    },
}
SUBMITS = scaled(1_000, 10_000)
IN_FLIGHT = scaled(1_000, 2_000)  # sockets open at once (the listen backlog is 2048)
POLL_CONCURRENCY = 100
DEADLINE_S = scaled(400, 1200)
"""A hang backstop, not a speed target: the rate is a benchmark figure (make bench)."""


async def _submit_all(url: str, fal: fal_client.AsyncClient) -> list[tuple[str, str, str]]:
    """(via, endpoint, request_id) of every submit, all in flight at once."""

    gate = asyncio.Semaphore(IN_FLIGHT)

    async def submit(i: int) -> tuple[str, str, str]:
        async with gate:
            return await submit_one(i)

    async def submit_one(i: int) -> tuple[str, str, str]:
        endpoint = (T2V, I2V)[i % 2]
        if i % 20 < 2:
            handle = await fal.submit(endpoint, arguments=INPUTS[endpoint])
            return "fal", endpoint, handle.request_id
        response = await rawhttp.request(
            f"{url}/{endpoint}", "POST", json_body=INPUTS[endpoint], headers=AUTH, timeout=60
        )
        assert response.status == 200, response.body
        body = response.json()
        assert body["status"] == "IN_QUEUE"
        assert response.headers["x-fal-request-id"] == body["request_id"]
        return "raw", endpoint, body["request_id"]

    return await asyncio.gather(*(submit(i) for i in range(SUBMITS)))


async def _wait_all_completed(url: str, ids: list[str]) -> None:
    pending = set(ids)
    gate = asyncio.Semaphore(POLL_CONCURRENCY)
    deadline = time.monotonic() + DEADLINE_S

    async def poll(request_id: str) -> None:
        async with gate:
            response = await rawhttp.request(f"{url}{REQUESTS}/{request_id}/status", headers=AUTH)
        assert response.status in (200, 202), response.body
        if response.json()["status"] == "COMPLETED":
            pending.discard(request_id)

    while pending and time.monotonic() < deadline:
        await asyncio.gather(*(poll(i) for i in list(pending)))
        if pending:
            await asyncio.sleep(0.2)
    assert not pending, f"{len(pending)} of {len(ids)} requests never completed"


async def _results(
    url: str, fal: fal_client.AsyncClient, submitted: list[tuple[str, str, str]]
) -> dict[str, set[str]]:
    """Video URLs per endpoint, each result read the way it was submitted."""
    gate = asyncio.Semaphore(POLL_CONCURRENCY)
    urls: dict[str, set[str]] = {T2V: set(), I2V: set()}

    async def result(via: str, endpoint: str, request_id: str) -> None:
        async with gate:
            if via == "fal":
                output = await fal.result(endpoint, request_id)
            else:
                response = await rawhttp.request(f"{url}{REQUESTS}/{request_id}", headers=AUTH)
                assert response.status == 200, response.body
                output = response.json()
        assert output["video"]["content_type"] == "video/mp4"
        urls[endpoint].add(output["video"]["url"])

    await asyncio.gather(*(result(*item) for item in submitted))
    return urls


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_concurrent_submits_all_complete_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    with BackgroundEmulator(make_config(tmp_path, store=store)) as emulator:
        route_fal_client(monkeypatch, emulator.url)

        async def scenario() -> tuple[list[tuple[str, str, str]], dict[str, set[str]]]:
            fal = fal_client.AsyncClient(key=TEST_KEY)
            submitted = await _submit_all(emulator.url, fal)
            await _wait_all_completed(emulator.url, [rid for _, _, rid in submitted])
            return submitted, await _results(emulator.url, fal, submitted)

        submitted, video_urls = asyncio.run(scenario())
        ids = [request_id for _, _, request_id in submitted]
        assert len(ids) == SUBMITS and len(set(ids)) == SUBMITS  # unique ids, none lost

        records = emulator.call(emulator.services.store.recent, 2 * SUBMITS)
        assert sorted(r.request_id for r in records) == sorted(ids)  # no extra, no duplicate
        assert {(r.status, r.outcome) for r in records} == {("COMPLETED", "ok")}
        assert {r.endpoint_id for r in records} == {T2V, I2V}
        assert sorted(r.seq for r in records) == list(range(1, SUBMITS + 1))
        # identical inputs: one render per endpoint, yet each generation has its own URL (as
        # fal's CDN gives), all serving those same bytes
        per_endpoint = Counter(endpoint for _, endpoint, _ in submitted)
        assert {endpoint: len(urls) for endpoint, urls in video_urls.items()} == per_endpoint
        assert len({r.media["key"] for r in records}) == 2  # cache keys: one clip per endpoint
        for urls in video_urls.values():
            sample = sorted(urls)[:3]
            bodies = {httpx.get(url, timeout=30).content for url in sample}
            assert len(bodies) == 1 and next(iter(bodies))[4:8] == b"ftyp"
