"""fal's gateway answers over a real socket, compared byte for byte with what was captured live.

Expected values come from the evidence only (docs/evidence.md): captured bodies stored under
``tests/fixtures/evidence/`` with the capture's own ids and URLs swapped for this request's, and
literals quoted from fal's docs and fal's own tests. Requests move by manual progression (the
control API's advance), so each state is observed on purpose, never raced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.config import Config
from mockserver.serving.background import BackgroundEmulator
from tests.support import REPO_ROOT, TEST_KEY, make_config, wait_until

T2V = "fal-ai/luma-dream-machine/ray-2"
APP = "fal-ai/luma-dream-machine"
AUTH = {"authorization": f"Key {TEST_KEY}"}
EVIDENCE = REPO_ROOT / "tests" / "fixtures" / "evidence"
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def captured(name: str) -> bytes:
    return (EVIDENCE / name).read_bytes()


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path, progression="manual")) as running:
        yield running


@pytest.fixture
def http(manual: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=manual.url, headers=AUTH, timeout=30) as client:
        yield client


def advance(http: httpx.Client, request_id: str, to: str) -> None:
    """One manual step; the control API answers once the request is in its new state."""
    stepped = http.post(f"/_mock/requests/{request_id}/advance")
    assert stepped.status_code == 200 and stepped.json()["status"] == to, stepped.text


def submit(http: httpx.Client, body: object | None = None) -> dict:
    answer = http.post(f"/{T2V}", json={"prompt": "a fox in the snow"} if body is None else body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_status_codes_are_202_until_completed_then_200(http: httpx.Client) -> None:
    """fal's CLI: ``if response.status_code == 200: return Completed``; its fake answers 202 for
    IN_PROGRESS; the docs: 202 in the queue or in progress, 200 when complete."""
    request = submit(http)
    seen = []
    for step in ("IN_PROGRESS", "COMPLETED", None):
        status = http.get(request["status_url"])
        seen.append((status.json()["status"], status.status_code))
        if step:
            advance(http, request["request_id"], step)
    assert seen == [("IN_QUEUE", 202), ("IN_PROGRESS", 202), ("COMPLETED", 200)]


def test_a_completed_status_is_written_like_the_live_capture(
    http: httpx.Client, manual: BackgroundEmulator
) -> None:
    """A raw ``curl`` of a COMPLETED status (imagen3-status): key order, spacing, ``logs: null``
    without ``?logs=1``, ``metrics.inference_time``. The capture's id, app and number are
    swapped for this request's; every other byte must match."""
    request = submit(http)
    advance(http, request["request_id"], "IN_PROGRESS")
    advance(http, request["request_id"], "COMPLETED")
    status = http.get(request["status_url"])
    inference_time = status.json()["metrics"]["inference_time"]
    expected = (
        captured("imagen3-status.txt")
        .decode()
        .replace("2f18c428-88c7-4ad4-99b8-77483651dff6", request["request_id"])
        .replace("https://queue.fal.run/fal-ai/imagen3", f"{manual.url}/{APP}")
        .replace("9.276242017745972", json.dumps(inference_time))
        + "}"  # the pasted comment lost the closing brace
    )
    assert status.content.decode() == expected
    assert status.headers["content-type"] == "application/json"
    assert status.headers["x-fal-request-id"] == request["request_id"]


def test_the_submit_answer_is_the_queued_status_with_its_position(
    http: httpx.Client, manual: BackgroundEmulator
) -> None:
    """vercel/ai's recorded queue answer: the IN_QUEUE status object (``logs: null``,
    ``metrics: {}``) plus ``queue_position``; ``gateway_request_id`` (fal's webhook docs) after
    the request id [its position: inferred]; the gateway's ``json.dumps`` spacing."""
    first = submit(http)
    answer = http.post(f"/{T2V}", json={"prompt": "a second fox"})
    request_id = answer.json()["request_id"]
    assert UUID7.match(request_id) and answer.headers["x-fal-request-id"] == request_id
    base = f"{manual.url}/{APP}/requests/{request_id}"
    expected = {
        "status": "IN_QUEUE",
        "request_id": request_id,
        "gateway_request_id": request_id,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "logs": None,
        "metrics": {},
        "queue_position": 1,  # one request ahead: ``first``
    }
    assert answer.content == json.dumps(expected).encode()
    assert first["queue_position"] == 0


def test_unknown_request_ids_get_the_live_404s(http: httpx.Client) -> None:
    """babylon-probe (2026-10-01): status ``404 {"status":"NOT_FOUND"}``, result
    ``404 {"detail":"Request not found"}``; cancel answers like status [inferred]. Written with
    the gateway's ``json.dumps`` spacing [inferred: the probe's table shows them compact]."""
    unknown = "0190a0b0-0000-7000-8000-000000000000"
    base = f"/{APP}/requests/{unknown}"
    for method, path, body in (
        ("GET", f"{base}/status", {"status": "NOT_FOUND"}),
        ("GET", base, {"detail": "Request not found"}),
        ("PUT", f"{base}/cancel", {"status": "NOT_FOUND"}),
    ):
        answer = http.request(method, path)
        assert answer.status_code == 404, path
        assert json.loads(answer.content) == body, path


def test_status_and_result_under_the_full_endpoint_id_are_405(http: httpx.Client) -> None:
    """Three third-party reports: polling under the full endpoint path answers 405 Method Not
    Allowed (fal's router treats it as a POST-only submit path)."""
    request_id = submit(http)["request_id"]
    for path in (f"/{T2V}/requests/{request_id}/status", f"/{T2V}/requests/{request_id}"):
        refused = http.get(path)
        assert (refused.status_code, refused.headers["allow"]) == (405, "POST"), path


def test_cancelling_a_finished_request_is_the_compact_400(http: httpx.Client) -> None:
    """probe-251: ``cancel → HTTP 400:{"status":"ALREADY_COMPLETED"}``, compact."""
    request = submit(http)
    advance(http, request["request_id"], "IN_PROGRESS")
    advance(http, request["request_id"], "COMPLETED")
    refused = http.put(request["cancel_url"])
    assert refused.status_code == 400
    assert refused.content == captured("probe-251-cancel-400.json")


def test_cancelling_a_queued_request(http: httpx.Client) -> None:
    """Accepted with 202 ``CANCELLATION_REQUESTED`` (a third-party connector's description; the
    probe saw 2xx for Ray 2), compact like the probe's 400. What follows is inferred: COMPLETED
    with ``error_type: client_cancelled``, the result 499 in the request-error shape (fal's docs
    list ``client_cancelled`` as 499; the text is fal's ``RequestCancelledException``)."""
    request = submit(http)
    cancelled = http.put(request["cancel_url"])
    assert (cancelled.status_code, cancelled.content) == (
        202,
        b'{"status":"CANCELLATION_REQUESTED"}',
    )
    status = http.get(request["status_url"]).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "client_cancelled")
    result = http.get(request["response_url"])
    assert result.status_code == 499
    assert result.json() == {
        "detail": "Request cancelled by the client.",
        "error_type": "client_cancelled",
    }
    assert result.headers["x-fal-error-type"] == "client_cancelled"


def test_cancelling_a_running_request(http: httpx.Client) -> None:
    """fal's e2e ``test_app_cancellation``: cancel while IN_PROGRESS succeeds, and an app that
    honours it answers 499; fal's ``app.py`` writes ``{"detail": "Request cancelled by the
    client."}`` with Starlette's compact JSON. The status carries no gateway error."""
    request = submit(http)
    advance(http, request["request_id"], "IN_PROGRESS")
    assert http.get(request["status_url"]).json()["status"] == "IN_PROGRESS"
    cancelled = http.put(request["cancel_url"])
    assert (cancelled.status_code, cancelled.content) == (
        202,
        b'{"status":"CANCELLATION_REQUESTED"}',
    )
    status = wait_until(
        lambda: (s := http.get(request["status_url"]).json())["status"] == "COMPLETED" and s,
        what="the cancelled request to complete",
    )
    assert "error" not in status and "error_type" not in status
    result = http.get(request["response_url"])
    assert result.status_code == 499
    assert result.content == b'{"detail":"Request cancelled by the client."}'


def test_auth_refusals_are_the_live_401_bodies(tmp_path: Path) -> None:
    """fal-1068: a well-formed unknown key gets ``{"detail": "No user found for Key ID and
    Secret"}`` (pasted raw, ``json.dumps`` spacing) on fal.run and queue.fal.run; a key without
    ``key_id:key_secret`` gets the format refusal, as pasted by fal-rs callers."""
    config = make_config(tmp_path, api_key="real-id:real-secret")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        for path in (f"/{T2V}", f"/run/{T2V}"):
            wrong = http.post(path, json={"prompt": "a fox"}, headers={"authorization": "Key a:b"})
            assert (wrong.status_code, wrong.content) == (401, captured("fal-1068-401.json"))
            malformed = http.post(
                path, json={"prompt": "a fox"}, headers={"authorization": "Key no-colon"}
            )
            assert malformed.status_code == 401
            assert malformed.content == captured("key-format-401.json")
        assert "error_type" not in wrong.json()


def test_a_configured_api_key_must_be_a_fal_key() -> None:
    """fal keys are ``<key_id>:<key_secret>`` (the format refusal quoted above): a key of
    another form could never match a client's, so it is refused when the emulator starts."""
    with pytest.raises(ValueError, match="<key_id>:<key_secret>"):
        Config(api_key="no-colon-here")
    assert Config(api_key="an-id:a-secret").api_key == "an-id:a-secret"


def test_bearer_tokens_are_accepted_unless_a_key_is_required(tmp_path: Path) -> None:
    """fal_client sends ``Bearer <token>`` for ``fal auth login`` users (its ``auth.py``); the
    emulator cannot verify a user token offline, so it accepts one unless ``--api-key`` fixes
    the only key that passes [inferred for the refusal: a third party notes Bearer fails 401]."""
    bearer = {"authorization": "Bearer a-user-token"}
    with (
        BackgroundEmulator(make_config(tmp_path / "open")) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        assert http.post(f"/{T2V}", json={"prompt": "a fox"}, headers=bearer).status_code == 200
    config = make_config(tmp_path / "fixed", api_key="real-id:real-secret")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        refused = http.post(f"/{T2V}", json={"prompt": "a fox"}, headers=bearer)
        assert (refused.status_code, refused.content) == (401, captured("fal-1068-401.json"))


def test_a_queued_status_is_the_status_object_with_its_position(
    http: httpx.Client, manual: BackgroundEmulator
) -> None:
    """The captured status form (imagen3-status) while queued: ``metrics: {}``, ``logs: null``
    without ``?logs=1``, and ``queue_position`` (fal's status docs: "The number of requests in
    front of this request. Present only when the status is IN_QUEUE"), last as in vercel/ai's
    recorded queue answer; 202."""
    submit(http)
    request = submit(http)
    status = http.get(request["status_url"])
    base = f"{manual.url}/{APP}/requests/{request['request_id']}"
    expected = {
        "status": "IN_QUEUE",
        "request_id": request["request_id"],
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "logs": None,
        "metrics": {},
        "queue_position": 1,
    }
    assert (status.status_code, status.content) == (202, json.dumps(expected).encode())
    advance(http, request["request_id"], "IN_PROGRESS")
    running = http.get(request["status_url"]).json()
    assert running["status"] == "IN_PROGRESS" and "queue_position" not in running


def test_unknown_request_ids_are_written_by_the_gateway(http: httpx.Client) -> None:
    """The gateway writes its own answers with Python's ``json.dumps`` spacing (fal-1068's raw
    401, imagen3-status); the unknown-id 404s are the gateway's too [spacing inferred]."""
    unknown = "0190a0b0-0000-7000-8000-000000000001"
    status = http.get(f"/{APP}/requests/{unknown}/status")
    result = http.get(f"/{APP}/requests/{unknown}")
    assert status.content == b'{"status": "NOT_FOUND"}'
    assert result.content == b'{"detail": "Request not found"}'


def test_a_start_timeout_completes_the_request_with_the_gateway_error(
    http: httpx.Client,
) -> None:
    """fal_client's unit fixtures (fal-906) model a gateway failure as a COMPLETED status with
    ``"error": "Request timed out", "error_type": "request_timeout"`` after ``metrics``; fal's
    e2e test: a request that cannot start within ``X-Fal-Request-Timeout`` ends with 504 and
    ``X-Fal-Request-Timeout-Type: user``."""
    answer = http.post(
        f"/{T2V}", json={"prompt": "a fox"}, headers={"x-fal-request-timeout": "2"}
    ).json()
    http.post("/_mock/clock/advance", json={"seconds": 3})
    status = http.get(answer["status_url"])
    body = status.json()
    assert status.status_code == 200
    assert list(body)[-4:] == ["logs", "metrics", "error", "error_type"]
    assert (body["status"], body["error"], body["error_type"]) == (
        "COMPLETED",
        "Request timed out",
        "request_timeout",
    )
    result = http.get(answer["response_url"])
    assert result.status_code == 504
    assert result.headers["x-fal-request-timeout-type"] == "user"


def test_every_answer_about_a_request_carries_its_id(http: httpx.Client) -> None:
    """fal_client treats ``x-fal-request-id`` as "clearly returned from our server" and
    @fal-ai/client reads ``requestId`` from it: submit, status, result and cancel carry it."""
    request = submit(http)
    request_id = request["request_id"]
    answers = {"submit": http.post(f"/{T2V}", json={"prompt": "another fox"})}
    answers["status"] = http.get(request["status_url"])
    advance(http, request_id, "IN_PROGRESS")
    advance(http, request_id, "COMPLETED")
    answers["result"] = http.get(request["response_url"])
    answers["cancel"] = http.put(request["cancel_url"])
    assert answers["submit"].headers["x-fal-request-id"] == answers["submit"].json()["request_id"]
    for name in ("status", "result", "cancel"):
        assert answers[name].headers["x-fal-request-id"] == request_id, name


def test_a_result_through_fals_hosts_is_a_file_on_fals_current_cdn(
    http: httpx.Client,
) -> None:
    """Each generation is uploaded under a new 21-character id at ``https://v3b.fal.media/files/
    b/<8 hex>/<id>_output.mp4`` (fal's file-access docs, live artefacts of 2026); the ``File``
    carries ``url``, ``content_type``, ``file_name`` and ``file_size`` as fal's ``File.from_bytes``
    fills them, ``output.mp4`` as fal's video models name it (kling-file-example)."""
    fal_host = {"host": "queue.fal.run"}
    urls, payloads = [], []
    for _ in range(2):  # identical requests: their own URLs, the same bytes
        request = http.post(f"/{T2V}", json={"prompt": "a fox"}, headers=fal_host).json()
        assert request["response_url"].startswith("http://queue.fal.run/")
        advance(http, request["request_id"], "IN_PROGRESS")
        advance(http, request["request_id"], "COMPLETED")
        result = http.get(f"/{APP}/requests/{request['request_id']}", headers=fal_host).json()
        video = result["video"]
        assert list(video) == ["url", "content_type", "file_name", "file_size"]
        assert re.fullmatch(
            r"https://v3b\.fal\.media/files/b/[0-9a-f]{8}/[A-Za-z0-9_-]{21}_output\.mp4",
            video["url"],
        )
        assert (video["content_type"], video["file_name"]) == ("video/mp4", "output.mp4")
        path = video["url"].removeprefix("https://v3b.fal.media")
        downloaded = http.get(path, headers={"host": "v3b.fal.media"})
        assert downloaded.status_code == 200 and len(downloaded.content) == video["file_size"]
        urls.append(video["url"])
        payloads.append(downloaded.content)
    assert urls[0] != urls[1] and payloads[0] == payloads[1]
