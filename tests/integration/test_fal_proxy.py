"""fal's server-proxy convention (``/api/fal/proxy`` + ``x-fal-target-url``) over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.fal.hosts import HOST_ROLES
from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.browser_proxy import PROXY_PATH
from tests.support import make_config

QUEUE = "https://queue.fal.run/fal-ai/luma-dream-machine"
T2V = f"{QUEUE}/ray-2"
PAGE = "http://page.example"  # a browser page on another origin


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    """One emulator for the module: every test here uses it read-only or with its own request."""
    with BackgroundEmulator(make_config(tmp_path_factory.mktemp("proxy"))) as running:
        yield running


@pytest.fixture
def proxy(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def via(target: str, **headers: str) -> dict[str, str]:
    return {"x-fal-target-url": target, "authorization": "Key k:s", **headers}


def test_queue_round_trip_through_the_proxy(
    proxy: httpx.Client, emulator: BackgroundEmulator
) -> None:
    submitted = proxy.post(PROXY_PATH, json={"prompt": "proxied"}, headers=via(T2V))
    assert submitted.status_code == 200, submitted.text
    request_id = submitted.json()["request_id"]
    assert submitted.headers["x-fal-request-id"] == request_id
    # URLs handed back point at this server (reachable without the proxy), in fal's layout.
    assert submitted.json()["status_url"] == (
        f"{emulator.url}/fal-ai/luma-dream-machine/requests/{request_id}/status"
    )
    stream = proxy.get(
        PROXY_PATH, headers=via(f"{QUEUE}/requests/{request_id}/status/stream?logs=1")
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in stream.text.splitlines() if line.startswith("data:")]
    assert events[-1]["status"] == "COMPLETED"
    result = proxy.get(PROXY_PATH, headers=via(f"{QUEUE}/requests/{request_id}"))
    video_url = result.json()["video"]["url"]
    assert video_url.startswith(f"{emulator.url}/files/")
    assert httpx.get(video_url).headers["content-type"] == "video/mp4"
    cancel = proxy.put(PROXY_PATH, headers=via(f"{QUEUE}/requests/{request_id}/cancel"))
    assert cancel.status_code == 400 and cancel.json()["status"] == "ALREADY_COMPLETED"


def test_the_target_host_decides_the_routes(proxy: httpx.Client) -> None:
    ran = proxy.post(
        PROXY_PATH,
        json={"prompt": "proxied"},
        headers=via("https://fal.run/fal-ai/luma-dream-machine/ray-2"),
    )
    assert ran.status_code == 200 and set(ran.json()) == {"video"}  # run host: the output
    queued = proxy.post(PROXY_PATH, json={"prompt": "proxied"}, headers=via(T2V))
    assert queued.json()["status"] == "IN_QUEUE"  # queue host: a queued request
    cdn = proxy.post(
        PROXY_PATH,
        json={"prompt": "proxied"},
        headers=via("https://v3.fal.media/fal-ai/luma-dream-machine/ray-2"),
    )
    assert cdn.status_code in (404, 405)  # the CDN host does not take submissions
    assert "error_type" in cdn.json()


@pytest.mark.parametrize(
    ("headers", "status", "error_type", "says"),
    [
        ({}, 400, "invalid_proxy_target", "Missing the x-fal-target-url header"),
        ({"x-fal-target-url": "queue.fal.run/x"}, 400, "invalid_proxy_target", "not a valid"),
        ({"x-fal-target-url": "ftp://queue.fal.run/x"}, 400, "invalid_proxy_target", "not a valid"),
        (
            {"x-fal-target-url": "https://queue.fal.run:99999/x"},
            400,
            "invalid_proxy_target",
            "not a valid",
        ),
        (
            {"x-fal-target-url": "https://example.com/x"},
            412,
            "proxy_target_not_allowed",
            "queue.fal.run",
        ),
        (
            {"x-fal-target-url": "https://fal.run.evil.test/x"},
            412,
            "proxy_target_not_allowed",
            "not a fal host",
        ),
    ],
)
def test_bad_targets_are_refused_fal_shaped(
    proxy: httpx.Client, headers: dict[str, str], status: int, error_type: str, says: str
) -> None:
    response = proxy.post(PROXY_PATH, json={"prompt": "x prompt"}, headers=headers)
    assert response.status_code == status
    assert response.headers["x-fal-error-type"] == error_type
    assert response.json()["error_type"] == error_type and says in response.json()["detail"]


def test_every_fal_host_is_named_when_refusing(proxy: httpx.Client) -> None:
    detail = proxy.get(PROXY_PATH, headers={"x-fal-target-url": "https://x.test/"}).json()["detail"]
    assert all(host in detail for host in HOST_ROLES)


def test_other_methods_are_405(proxy: httpx.Client) -> None:
    response = proxy.delete(PROXY_PATH, headers=via(T2V))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT"
    assert response.json()["error_type"] == "method_not_allowed"


def test_a_page_on_another_origin_may_use_it(proxy: httpx.Client) -> None:
    preflight = proxy.options(
        PROXY_PATH,
        headers={
            "origin": PAGE,
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-fal-target-url,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "x-fal-target-url" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]
    # Browsers send no credentials: the proxy adds its own key, as fal's server-proxy does.
    submitted = proxy.post(
        PROXY_PATH, json={"prompt": "proxied"}, headers={"x-fal-target-url": T2V, "origin": PAGE}
    )
    assert submitted.status_code == 200
    assert submitted.headers["access-control-allow-origin"] == "*"
    assert "x-fal-request-id" in submitted.headers["access-control-expose-headers"]


def test_an_api_key_emulator_keeps_the_callers_key(tmp_path: Path) -> None:
    with BackgroundEmulator(make_config(tmp_path, api_key="right:secret")) as running:
        client = httpx.Client(base_url=running.url)
        keyless = client.post(
            PROXY_PATH, json={"prompt": "proxied"}, headers={"x-fal-target-url": T2V}
        )
        assert keyless.status_code == 200  # the proxy holds the server's key
        wrong = client.post(
            PROXY_PATH,
            json={"prompt": "proxied"},
            headers={"x-fal-target-url": T2V, "authorization": "Key wrong:key"},
        )
        assert wrong.status_code == 401  # a caller's own key is passed on, not replaced
        client.close()
