"""What a scenario's ``http_error`` sends by default, over HTTP: live fal's answer for that
status where one was captured (quoted here), else the emulator's own refusal byte for byte.

The expected bytes are the quoted evidence (fal's issues, fal's docs, nginx's source), never
the emulator's tables; where the default is "the emulator's own answer", the test asks the
emulator for both over HTTP and compares them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config

T2V = "fal-ai/luma-dream-machine/ray-2"
APP = "fal-ai/luma-dream-machine"
KEY = "the:key"
AUTH = {"Authorization": f"Key {KEY}"}
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
"""RFC 9562 version 7, as fal's 2026 request ids (``019e670c-0e82-7593-…``, a live capture)."""

NO_USER = b'{"detail": "No user found for Key ID and Secret"}'
"""fal-ai/fal issue #1068 and fal-swift #8: live 401 bodies, json.dumps spacing, no type."""
LOCKED = (
    b'{"detail": "User is locked. Reason: Exhausted balance. Top up your balance at'
    b' fal.ai/dashboard/billing."}'
)
"""fal-ai/fal issues #1112 (2026-07-13) and #1163 (2026-09-08): the live 403 of an account
out of credit, quoted by each reporter."""
REQUEST_TIMED_OUT = {"detail": "Request timed out", "error_type": "request_timeout"}
"""fal's request-errors docs: the one request-error body they show."""
NGINX_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
"""nginx's built-in page (``ngx_http_special_response.c``: ``ngx_http_error_503_page`` then
``ngx_http_error_tail``), CRLF line ends."""


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[BackgroundEmulator, httpx.Client]]:
    """An emulator that checks keys (so it has an unknown-key 401 of its own)."""
    config = make_config(tmp_path, api_key=KEY, progression="manual")
    with BackgroundEmulator(config) as running, httpx.Client(base_url=running.url) as http:
        yield running, http


def scenario(http: httpx.Client, **spec: Any) -> None:
    response = http.post("/_mock/scenarios", json=spec)
    assert response.status_code == 200, response.text


def without_date(response: httpx.Response) -> list[tuple[str, str]]:
    """Every header line in order, but the clock's."""
    return [(k, v) for k, v in response.headers.multi_items() if k != "date"]


def submit(http: httpx.Client, prompt: str = "a fox") -> httpx.Response:
    return http.post(f"/{T2V}", json={"prompt": prompt}, headers=AUTH)


def completed(http: httpx.Client, request_id: str) -> httpx.Response:
    """Step a manual request to COMPLETED; its result."""
    deadline = time.monotonic() + 30
    while http.get(f"/_mock/requests/{request_id}").json()["status"] != "COMPLETED":
        http.post(f"/_mock/requests/{request_id}/advance")
        assert time.monotonic() < deadline, "did not complete"
    return http.get(f"/{APP}/requests/{request_id}", headers=AUTH)


def test_a_scenario_401_is_the_emulators_own_unknown_key_401(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    _, http = gateway
    own = http.post(f"/{T2V}", json={"prompt": "a fox"}, headers={"Authorization": "Key a:b"})
    scenario(http, times=1, match={"route": "submit"}, http_error={"status": 401})
    injected = submit(http)
    assert (own.status_code, own.content) == (401, NO_USER)
    assert (injected.status_code, injected.content) == (401, NO_USER)
    assert without_date(injected) == without_date(own)
    assert without_date(own) == [
        ("content-length", str(len(NO_USER))),
        ("content-type", "application/json"),
    ], "no error_type header, no request id: nothing exists yet"


def test_a_scenario_403_is_fals_locked_account(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    _, http = gateway
    scenario(http, http_error={"status": 403})  # default routes: submit and run
    for refused in (submit(http), http.post(f"/run/{T2V}", json={"prompt": "a fox"}, headers=AUTH)):
        assert (refused.status_code, refused.content) == (403, LOCKED)
        assert "x-fal-error-type" not in refused.headers
        assert "x-fal-request-id" not in refused.headers


def test_error_type_null_sends_a_bare_detail(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    _, http = gateway
    scenario(http, http_error={"status": 503, "error_type": None, "message": "try later"})
    refused = submit(http)
    assert refused.content == b'{"detail": "try later"}'
    assert "x-fal-error-type" not in refused.headers


def test_request_timeouts_have_one_text(gateway: tuple[BackgroundEmulator, httpx.Client]) -> None:
    _, http = gateway
    for status in (408, 504):
        scenario(http, name=f"s{status}", times=1, http_error={"status": status})
        refused = submit(http)
        assert refused.status_code == status
        assert refused.content == json.dumps(REQUEST_TIMED_OUT).encode()
        assert refused.headers["x-fal-error-type"] == "request_timeout"


def test_a_502_says_what_a_runner_failure_at_completion_says(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    """One request-error type, one text: the gateway's 502 and the same type at completion."""
    _, http = gateway
    scenario(http, name="late", times=1, error="runner_incomplete_response")
    completion = completed(http, submit(http).json()["request_id"])
    scenario(http, name="now", times=1, http_error={"status": 502})
    refused = submit(http)
    assert completion.status_code == refused.status_code == 502
    assert refused.json() == completion.json()
    assert refused.json()["error_type"] == "runner_incomplete_response"


def test_a_scenario_404_on_a_request_route_is_that_routes_unknown_id_answer(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    """babylon-probe: status ``{"status": "NOT_FOUND"}`` and result ``{"detail": "Request not
    found"}`` spaced; cancel compact like every cancel answer (probe-251)."""
    _, http = gateway
    request_id = submit(http).json()["request_id"]
    base = f"/{APP}/requests/{request_id}"
    calls = {
        "status": (lambda: http.get(f"{base}/status", headers=AUTH), b'{"status": "NOT_FOUND"}'),
        "result": (lambda: http.get(base, headers=AUTH), b'{"detail": "Request not found"}'),
        "cancel": (lambda: http.put(f"{base}/cancel", headers=AUTH), b'{"status":"NOT_FOUND"}'),
    }
    for route, (call, body) in calls.items():
        scenario(http, name=route, times=1, match={"route": route}, http_error={"status": 404})
        injected = call()
        assert (injected.status_code, injected.content) == (404, body), route
        assert "x-fal-error-type" not in injected.headers
    unknown = http.get(f"/{APP}/requests/00000000-0000-7000-8000-000000000000/status", headers=AUTH)
    assert without_date(unknown) == [
        ("content-length", str(len(b'{"status": "NOT_FOUND"}'))),
        ("content-type", "application/json"),
    ]


def test_scenario_request_ids_are_uuid7(gateway: tuple[BackgroundEmulator, httpx.Client]) -> None:
    _, http = gateway
    scenario(http, times=3, http_error={"status": 500})
    ids = [submit(http).headers["x-fal-request-id"] for _ in range(3)]
    assert all(UUID7.match(i) for i in ids), ids
    assert len(set(ids)) == 3


def test_an_ingress_page_is_nginxs_own(gateway: tuple[BackgroundEmulator, httpx.Client]) -> None:
    _, http = gateway
    scenario(http, http_error={"status": 503, "ingress": True})
    page = submit(http)
    assert (page.status_code, page.content) == (503, NGINX_503)
    assert page.headers["content-type"] == "text/html", "nginx adds no charset unless told to"
    assert "x-fal-request-id" not in page.headers


def test_the_random_429_refuses_sync_runs_never_queue_submits(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    """fal's concurrency docs: "Requests are never rejected due to concurrency limits" (queue);
    a sync run over the limit is answered 429 ``concurrent_requests_limit``."""
    _, http = gateway
    chaos = {"scenarios": [], "seed": 1, "fault_rates": {"run_429": 1.0}}
    response = http.post("/_mock/scenarios", json=chaos)
    assert response.status_code == 200, response.text
    assert [submit(http).status_code for _ in range(5)] == [200] * 5
    run = http.post(f"/run/{T2V}", json={"prompt": "a fox"}, headers=AUTH)
    assert run.status_code == 429
    assert run.json()["error_type"] == "concurrent_requests_limit"
    assert run.headers["x-fal-needs-retry"] == "1"


def test_the_gateways_own_request_errors_use_its_spacing(
    gateway: tuple[BackgroundEmulator, httpx.Client],
) -> None:
    """Every captured gateway body is ``json.dumps``-spaced; its request errors are taken to
    be too (no capture of their bytes)."""
    _, http = gateway
    refusals = [
        http.post(f"/{T2V}", json={"prompt": "x"}, headers={**AUTH, "X-Fal-Request-Timeout": "x"}),
        http.get(f"/{T2V}", headers=AUTH),
    ]
    for refused in refusals:
        assert refused.status_code in (400, 405), refused.text
        body = refused.json()
        assert refused.content == json.dumps(body).encode(), refused.content
        assert refused.headers["x-fal-error-type"] == body["error_type"]


def test_a_failure_of_the_emulators_own_model_is_fals_internal_server_error(
    gateway: tuple[BackgroundEmulator, httpx.Client], tmp_path: Path
) -> None:
    """The queue's own generation failure and the scenario ``internal_server_error`` are one
    model error: the entry fields and headers of fal's Model Errors docs."""
    _, http = gateway
    clip = tmp_path / "gone.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom")
    scenario(
        http, name="gone", match={"input": {"prompt": "^vanish$"}}, output={"video": str(clip)}
    )
    clip.unlink()  # the producer cannot read it: a failure of the emulator's own model
    scenario(
        http, name="fail", match={"input": {"prompt": "^fail$"}}, error="internal_server_error"
    )
    own, injected = (
        completed(http, submit(http, prompt).json()["request_id"]) for prompt in ("vanish", "fail")
    )
    assert own.status_code == injected.status_code == 500
    (entry,) = own.json()["detail"]
    assert entry["type"] == "internal_server_error"
    assert entry["url"] == "https://docs.fal.ai/errors#internal_server_error"
    assert entry["msg"].startswith("Video generation failed")
    (scripted,) = injected.json()["detail"]
    assert list(entry) == list(scripted), "the same entry fields, in the same order"
    same = {k: v for k, v in scripted.items() if k not in ("msg", "input")}
    assert {k: v for k, v in entry.items() if k not in ("msg", "input")} == same
    assert (entry["input"], scripted["input"]) == ({"prompt": "vanish"}, {"prompt": "fail"})
    headers = {k for k, _ in without_date(injected)} - {"content-length"}
    assert {k for k, _ in without_date(own)} - {"content-length"} == headers
    for name in headers - {"x-fal-request-id"}:
        assert own.headers[name] == injected.headers[name], name
