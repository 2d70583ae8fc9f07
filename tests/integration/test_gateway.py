"""The gateway (``mockserver/gateway.py``): one classification, a fast path for fal's calls, the
routers for the rest, CORS only for browsers, and fal's shapes for crashes, 404s and 405s."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver.app import create_app
from mockserver.fal.api import QueueApi
from mockserver.fal.operations import FalCall
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config, server_errors

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


def test_a_crashing_handler_answers_fals_500_and_the_server_keeps_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[FalCall] = []
    original = QueueApi.handle

    async def crash_on_status(self: QueueApi, request, call: FalCall):  # type: ignore[no-untyped-def]
        calls.append(call)
        if call.route == "status":
            raise RuntimeError("boom")
        return await original(self, request, call)

    monkeypatch.setattr(QueueApi, "handle", crash_on_status)
    config = make_config(tmp_path)
    with BackgroundEmulator(config, create_app(config)) as emulator, server_errors() as errors:
        submitted = httpx.post(f"{emulator.url}{APP}/ray-2", json={"prompt": "a fox"}, headers=AUTH)
        request_id = submitted.json()["request_id"]
        crashed = httpx.get(f"{emulator.url}{APP}/requests/{request_id}/status", headers=AUTH)
        after = httpx.post(f"{emulator.url}{APP}/ray-2", json={"prompt": "a cat"}, headers=AUTH)
        journal = httpx.get(f"{emulator.url}/_mock/journal").json()["entries"]

    # fal's request-error catalogue (its docs): ``internal_error``, 500; the gateway's spacing
    assert crashed.status_code == 500
    assert crashed.content == (
        b'{"detail": "The emulator hit an internal error; see its log",'
        b' "error_type": "internal_error"}'
    )
    assert crashed.headers["x-fal-error-type"] == "internal_error"
    assert after.status_code == 200  # the next call is served as usual
    assert after.json()["request_id"] != request_id
    assert [c.route for c in calls] == ["submit", "status", "submit"]
    assert calls[1] == FalCall("status", "fal-ai/luma-dream-machine", request_id)
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in errors)
    status_entry = next(e for e in journal if e["route"] == "status")
    assert status_entry["status"] == 500


def test_wrong_methods_and_unknown_paths_reach_the_routers_in_fals_shape(
    emulator: BackgroundEmulator,
) -> None:
    get_submit = httpx.get(f"{emulator.url}{APP}/ray-2", headers=AUTH)
    assert get_submit.status_code == 405
    assert get_submit.headers["allow"] == "POST"
    post_status = httpx.post(f"{emulator.url}{APP}/requests/abc/status", headers=AUTH)
    assert post_status.status_code == 405
    assert post_status.headers["allow"] == "GET"
    unknown = httpx.get(f"{emulator.url}/_mock/no-such-thing")
    assert unknown.status_code == 404
    assert isinstance(unknown.json()["detail"], str)


def test_cors_headers_only_for_requests_that_carry_an_origin(
    emulator: BackgroundEmulator,
) -> None:
    url = f"{emulator.url}{APP}/requests/unknown-id/status"
    from_page = httpx.get(url, headers={**AUTH, "Origin": "http://app.example"})
    from_server = httpx.get(url, headers=AUTH)
    assert from_page.headers["access-control-allow-origin"] == "*"
    assert "x-fal-request-id" in from_page.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in from_server.headers
    assert from_page.json() == from_server.json() == {"status": "NOT_FOUND"}
    preflight = httpx.options(
        url,
        headers={"Origin": "http://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-max-age"] == "600"
