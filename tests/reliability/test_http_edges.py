"""Protocol edges found by fuzzing, each pinned by a test that failed before its fix."""

from __future__ import annotations

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY

AUTH = {"Authorization": f"Key {TEST_KEY}"}
REQUESTS = "/fal-ai/luma-dream-machine/requests/some-id"

# (method, path, methods the resource does allow): RFC 9110 says a 405 must list them.
WRONG_METHODS = [
    ("TRACE", "/fal-ai/luma-dream-machine/ray-2", None),  # rejected by Starlette's router
    ("GET", "/fal-ai/luma-dream-machine/ray-2", {"POST"}),
    ("DELETE", "/run/fal-ai/luma-dream-machine/ray-2", {"POST"}),
    ("POST", f"{REQUESTS}/status", {"GET"}),
    ("POST", f"{REQUESTS}/status/stream", {"GET"}),
    ("GET", f"{REQUESTS}/cancel", {"PUT"}),
    ("PATCH", REQUESTS, {"GET"}),
    ("POST", "/_mock/health", {"GET", "HEAD"}),
    ("OPTIONS", "/_mock/health", {"GET", "HEAD"}),
    ("PUT", "/_mock/journal", {"GET", "HEAD", "DELETE"}),
    ("GET", "/_mock/reset", {"POST"}),
    ("PATCH", "/_mock/scenarios/some-name", {"DELETE"}),
    # read-only routes ahead of the catch-alls used to fall through to a 404
    ("POST", "/_mock/ui/requests", {"GET", "HEAD"}),
    ("DELETE", "/_mock/schemas", {"GET", "HEAD"}),
    ("POST", "/_mock/webhooks/deliveries", {"GET", "HEAD"}),
    ("PUT", "/_mock/webhooks/jwks.json", {"GET", "HEAD"}),
    ("POST", "/_mock/ui/static/dashboard.js", {"GET", "HEAD"}),
    ("DELETE", "/files/mock/0123456789abcdef0123456789abcdef.mp4", {"GET", "HEAD"}),
    ("GET", "/storage/upload/initiate", {"POST"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
def test_405_lists_the_allowed_methods(
    emulator: BackgroundEmulator, method: str, path: str, allowed: set[str] | None
) -> None:
    response = httpx.request(method, emulator.url + path, headers=AUTH, timeout=10)
    assert response.status_code == 405
    listed = {m.strip() for m in response.headers["allow"].split(",")}
    assert listed and method not in listed
    if allowed is not None:
        assert listed == allowed
    assert response.json()["error_type"] == "method_not_allowed"


# Request ids arrive percent-decoded from the path; they used to be echoed into the
# x-fal-request-id header, where a non-latin-1 character raised (500) and a control character
# made uvicorn drop the connection.
ODD_IDS = ["%F4%83%80%96%C3%A5r", "a%01b", "x%0D%0Ay", "%C3%BF", "%7F"]
OPS = [("GET", ""), ("GET", "/status"), ("GET", "/status/stream"), ("PUT", "/cancel")]


@pytest.mark.parametrize("raw_id", ODD_IDS)
def test_unknown_odd_request_ids_are_a_plain_404(emulator: BackgroundEmulator, raw_id: str) -> None:
    for method, op in OPS:
        url = f"{emulator.url}/fal-ai/luma-dream-machine/requests/{raw_id}{op}"
        response = httpx.request(method, url, headers=AUTH, timeout=10)
        assert response.status_code == 404, (method, op)
        body = response.json()
        # fal's answers for an unknown id; a CR/LF id does not even parse as a request path:
        # the emulator's generic not_found then
        assert body.get("error_type") == "not_found" or body in (
            {"status": "NOT_FOUND"},
            {"detail": "Request not found"},
        )
        assert "x-fal-request-id" not in response.headers
    assert httpx.get(f"{emulator.url}/_mock/health", timeout=10).status_code == 200


def test_head_of_a_control_route_is_its_get_without_a_body(emulator: BackgroundEmulator) -> None:
    response = httpx.head(f"{emulator.url}/_mock/health", timeout=10)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_unknown_control_paths_stay_a_fal_shaped_404(emulator: BackgroundEmulator) -> None:
    for method in ("GET", "POST", "OPTIONS"):
        response = httpx.request(method, f"{emulator.url}/_mock/nothing-here", timeout=10)
        assert response.status_code == 404, method
        assert response.json()["error_type"] == "not_found"


@pytest.mark.parametrize("chosen", ["", "xml", "JSON", "prometheus2"])
def test_metrics_format_is_one_of_the_documented_values(
    emulator: BackgroundEmulator, chosen: str
) -> None:
    response = httpx.get(f"{emulator.url}/_mock/metrics", params={"format": chosen}, timeout=10)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]


def test_metrics_formats(emulator: BackgroundEmulator) -> None:
    url = f"{emulator.url}/_mock/metrics"
    text = httpx.get(url, params={"format": "prometheus"}, timeout=10)
    assert text.headers["content-type"].startswith("text/plain") and "# TYPE" in text.text
    as_json = httpx.get(url, params={"format": "json"}, headers={"accept": "text/plain"})
    assert as_json.headers["content-type"] == "application/json" and as_json.json()
