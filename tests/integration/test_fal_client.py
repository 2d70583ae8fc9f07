"""The real, unmodified ``fal_client`` against the emulator over a real socket."""

from __future__ import annotations

import itertools
from pathlib import Path

import fal_client
import httpx
import pytest

from contracts.server.mp4probe import probe
from mockserver.serving.background import BackgroundEmulator
from tests.support import (
    FRAMES,
    SHORT_SIDE,
    TEST_KEY,
    expected_size,
    make_config,
    route_fal_client,
)

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
ASPECTS = ["16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]


def download(url: str, dest: Path) -> Path:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    assert response.headers["content-type"] == "video/mp4"
    dest.write_bytes(response.content)
    return dest


@pytest.mark.parametrize("endpoint", [T2V, I2V])
def test_subscribe_with_logs_returns_a_playable_video(
    fal: fal_client.SyncClient, endpoint: str, tmp_path: Path
) -> None:
    updates: list[fal_client.Status] = []
    result = fal.subscribe(
        endpoint,
        arguments={"prompt": "a red fox in fresh snow"},
        with_logs=True,
        on_queue_update=updates.append,
    )
    assert set(result) == {"video"}
    video = result["video"]
    assert video["content_type"] == "video/mp4" and video["file_name"].endswith(".mp4")
    facts = probe(download(video["url"], tmp_path / "out.mp4"))
    assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert (facts.width, facts.height, facts.frames) == (960, 540, 120)
    assert facts.fps == pytest.approx(24)
    assert (tmp_path / "out.mp4").stat().st_size == video["file_size"]
    in_progress = [u for u in updates if isinstance(u, fal_client.InProgress)]
    assert in_progress, "subscribe never saw IN_PROGRESS"
    messages = [line["message"] for u in in_progress for line in (u.logs or [])]
    assert any(m.startswith("Starting generation") for m in messages)
    assert not any("render" in m or "placeholder" in m for m in messages)  # emulator notes


def test_every_parameter_combination_has_its_geometry(
    fal: fal_client.SyncClient, tmp_path: Path
) -> None:
    handles = {}
    for aspect, resolution, duration in itertools.product(ASPECTS, SHORT_SIDE, FRAMES):
        arguments = {
            "prompt": "geometry",
            "aspect_ratio": aspect,
            "resolution": resolution,
            "duration": duration,
        }
        handles[(aspect, resolution, duration)] = fal.submit(T2V, arguments=arguments)
    for (aspect, resolution, duration), handle in handles.items():
        video = handle.get()["video"]
        name = f"{aspect.replace(':', 'x')}-{resolution}-{duration}.mp4"
        facts = probe(download(video["url"], tmp_path / name), decode=False)
        assert (facts.width, facts.height) == expected_size(aspect, resolution), name
        assert facts.frames == FRAMES[duration], name
        assert abs(facts.duration - FRAMES[duration] / 24) <= 1 / 24, name


def test_submit_status_result_and_iter_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each state the client can be told, in order: a manual request stays where it is until
    the control API steps it, so every status class is observed, not merely allowed."""
    with BackgroundEmulator(make_config(tmp_path, progression="manual")) as running:
        route_fal_client(monkeypatch, running.url)
        fal = fal_client.SyncClient(key=TEST_KEY)
        handle = fal.submit(T2V, arguments={"prompt": "polling"})
        step = f"{running.url}/_mock/requests/{handle.request_id}/advance"
        queued = handle.status(with_logs=True)
        assert isinstance(queued, fal_client.Queued) and queued.position == 0
        httpx.post(step, timeout=30).raise_for_status()
        running_status = handle.status(with_logs=True)
        assert isinstance(running_status, fal_client.InProgress)
        assert running_status.logs and running_status.logs[0]["message"].startswith("Starting")
        httpx.post(step, timeout=30).raise_for_status()
        events = list(handle.iter_events(with_logs=True, interval=0.01))
        assert [type(e) for e in events] == [fal_client.Completed]
        assert events[-1].metrics["inference_time"] >= 0
        assert "video" in handle.get()
        assert fal.result(T2V, handle.request_id) == handle.get()
        assert isinstance(fal.status(T2V, handle.request_id, with_logs=False), fal_client.Completed)


def test_sync_run_returns_the_output(fal: fal_client.SyncClient, tmp_path: Path) -> None:
    result = fal.run(T2V, arguments={"prompt": "sync", "aspect_ratio": "9:16"})
    facts = probe(download(result["video"]["url"], tmp_path / "run.mp4"))
    assert (facts.width, facts.height) == (540, 960)


def test_cancel_after_completion_is_refused(fal: fal_client.SyncClient) -> None:
    handle = fal.submit(T2V, arguments={"prompt": "done"})
    handle.get()
    with pytest.raises(fal_client.client.FalClientHTTPError) as info:
        handle.cancel()
    assert info.value.status_code == 400


def test_cancel_before_completion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import TEST_KEY, route_fal_client

    config = make_config(tmp_path, timing="realistic")
    with BackgroundEmulator(config) as running:
        route_fal_client(monkeypatch, running.url)
        fal = fal_client.SyncClient(key=TEST_KEY)
        handle = fal.submit(T2V, arguments={"prompt": "never mind"})
        assert isinstance(handle.status(), fal_client.Queued)
        handle.cancel()
        final = handle.status()
        assert isinstance(final, fal_client.Completed)
        # removed from the queue by the gateway: fal's client_cancelled request error (499)
        assert final.error_type == "client_cancelled"
        with pytest.raises(fal_client.client.FalClientHTTPError) as info:
            handle.get()
        assert info.value.status_code == 499
        assert info.value.message == "Request cancelled by the client."


async def test_async_client_subscribe(emulator: BackgroundEmulator, monkeypatch) -> None:
    from tests.support import TEST_KEY, route_fal_client

    route_fal_client(monkeypatch, emulator.url)
    client = fal_client.AsyncClient(key=TEST_KEY)
    updates: list[fal_client.Status] = []
    result = await client.subscribe(
        I2V, arguments={"prompt": "async"}, with_logs=True, on_queue_update=updates.append
    )
    assert result["video"]["url"].endswith(".mp4")
    assert isinstance(updates[-1], fal_client.InProgress | fal_client.Completed)
    handle = await client.submit(T2V, arguments={"prompt": "async submit"})
    events = [event async for event in handle.iter_events(interval=0.01)]
    assert isinstance(events[-1], fal_client.Completed)
    assert (await handle.get())["video"]["file_size"] > 0
