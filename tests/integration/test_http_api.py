"""fal's HTTP surface over a real socket: shapes, status codes and every refusal."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
APP = "fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
ENTRY = re.compile(
    rb'\{"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", "message": "[^"]+", "labels": \{\}\}'
)
"""A log entry as fal's captured stream writes one (fashn-stream, 2024-12-20)."""


@pytest.fixture
def http(emulator: BackgroundEmulator) -> httpx.Client:
    with httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client:
        yield client


# One case per schema rule: (endpoint, body, expected loc, expected pydantic type).
SCHEMA_RULES = [
    (T2V, {}, ["body", "prompt"], "missing"),
    (T2V, {"prompt": 7}, ["body", "prompt"], "string_type"),
    (T2V, {"prompt": "ab"}, ["body", "prompt"], "string_too_short"),
    (T2V, {"prompt": "a fox", "aspect_ratio": "1:1"}, ["body", "aspect_ratio"], "literal_error"),
    (T2V, {"prompt": "a fox", "resolution": "4k"}, ["body", "resolution"], "literal_error"),
    (T2V, {"prompt": "a fox", "duration": "10s"}, ["body", "duration"], "literal_error"),
    (T2V, {"prompt": "a fox", "loop": "maybe"}, ["body", "loop"], "bool_parsing"),
    (I2V, {"prompt": "a fox", "image_url": 5}, ["body", "image_url"], "string_type"),
    (I2V, {"prompt": "a fox", "end_image_url": []}, ["body", "end_image_url"], "string_type"),
    (I2V, {"image_url": "data:,"}, ["body", "prompt"], "missing"),
    (T2V, ["not", "an", "object"], ["body"], "model_attributes_type"),
    (T2V, {"prompt": "x" * 5001}, ["body", "prompt"], "string_too_long"),  # fal: 3 to 5000
]


def finish(http: httpx.Client, submitted: dict, timeout: float = 30) -> dict:
    """Poll a queued request's status URL until COMPLETED; the final status body."""
    deadline = time.monotonic() + timeout
    while True:
        status = http.get(submitted["status_url"])
        body = status.json()
        if body["status"] == "COMPLETED":
            assert status.status_code == 200
            return body
        assert status.status_code == 202 and time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.parametrize(("endpoint", "body", "loc", "kind"), SCHEMA_RULES)
def test_sync_run_answers_each_schema_rule_with_its_422(
    http: httpx.Client, endpoint: str, body: object, loc: list[str], kind: str
) -> None:
    response = http.post(f"/run/{endpoint}", json=body)
    assert response.status_code == 422
    assert response.headers["x-fal-billable-units"] == "0"
    detail = response.json()["detail"]
    assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]
    assert detail[0]["msg"] and "url" not in detail[0]  # FastAPI drops pydantic's url


@pytest.mark.parametrize(("endpoint", "body", "loc", "kind"), SCHEMA_RULES)
def test_queue_accepts_invalid_input_and_the_result_is_the_422(
    http: httpx.Client, endpoint: str, body: object, loc: list[str], kind: str
) -> None:
    submitted = http.post(f"/{endpoint}", json=body)
    assert submitted.status_code == 200, submitted.text
    final = finish(http, submitted.json())
    assert "error" not in final and "error_type" not in final  # the app's error: result only
    result = http.get(submitted.json()["response_url"])
    assert result.status_code == 422
    assert result.headers["x-fal-billable-units"] == "0"
    assert result.headers["x-fal-request-id"] == submitted.json()["request_id"]
    detail = result.json()["detail"]
    assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]
    # the same bytes a sync run answers at once
    assert result.content == http.post(f"/run/{endpoint}", json=body).content


def test_validate_at_submit_is_an_opt_in_fast_failure(tmp_path: Path) -> None:
    config = make_config(tmp_path, validate_at_submit=True)
    with BackgroundEmulator(config) as running, httpx.Client(base_url=running.url) as http:
        response = http.post(f"/{T2V}", json={"prompt": "a fox", "loop": "maybe"}, headers=AUTH)
        assert response.status_code == 422
        assert [d["type"] for d in response.json()["detail"]] == ["bool_parsing"]


@pytest.mark.parametrize(("endpoint", "body", "loc", "kind"), SCHEMA_RULES[:7])
def test_fal_client_gets_a_handle_and_the_422_from_its_result(
    fal: fal_client.SyncClient, endpoint: str, body: object, loc: list[str], kind: str
) -> None:
    handle = fal.submit(endpoint, arguments=body)  # accepted, as at fal: a request id to log
    assert handle.request_id
    with pytest.raises(fal_client.client.FalClientHTTPError) as info:
        handle.get()
    assert info.value.status_code == 422
    assert [(d["loc"], d["type"]) for d in info.value.message] == [(loc, kind)]
    with pytest.raises(fal_client.client.FalClientHTTPError) as at_once:
        fal.run(endpoint, arguments=body)  # sync run answers the 422 directly
    assert at_once.value.status_code == 422
    assert at_once.value.message == info.value.message


def test_pydantic_lax_coercions_are_accepted(http: httpx.Client) -> None:
    """pydantic's lax mode: "true", 1 and "yes" are booleans; the model sees the coerced value."""
    for loop in ("true", 1, "yes", "on", True):
        response = http.post(f"/run/{T2V}", json={"prompt": "a fox", "loop": loop})
        assert response.status_code == 200, (loop, response.text)
    refused = http.post(f"/run/{T2V}", json={"prompt": 1})
    assert refused.json()["detail"][0]["type"] == "string_type"  # no int -> str coercion


def test_every_violation_is_listed_in_field_order(http: httpx.Client) -> None:
    body = {"aspect_ratio": "2:1", "loop": 2, "resolution": "8k", "duration": 5}
    detail = http.post(f"/run/{T2V}", json=body).json()["detail"]
    assert [d["loc"][1] for d in detail] == [
        "prompt",
        "aspect_ratio",
        "loop",
        "resolution",
        "duration",
    ]
    assert detail[1] == {
        "type": "literal_error",
        "loc": ["body", "aspect_ratio"],
        "msg": "Input should be '16:9', '9:16', '4:3', '3:4', '21:9' or '9:21'",
        "input": "2:1",
        "ctx": {"expected": "'16:9', '9:16', '4:3', '3:4', '21:9' or '9:21'"},
    }


def test_malformed_json_is_refused_at_the_door(http: httpx.Client) -> None:
    for path in (f"/{T2V}", f"/run/{T2V}"):
        response = http.post(
            path, content=b'{"prompt": ', headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {
                "type": "json_invalid",
                "loc": ["body", 11],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            }
        ]
        bad_utf8 = http.post(
            path, content=b'{"prompt": "\xff"}', headers={"content-type": "application/json"}
        )  # FastAPI cannot decode it at all: its plain 400
        assert bad_utf8.status_code == 400
        assert bad_utf8.json() == {"detail": "There was an error parsing the body"}


def test_body_content_types_follow_fastapi(http: httpx.Client) -> None:
    """curl -d (form type) and no type at all are read as JSON; other types reach the model
    as raw bytes and fail there; an empty body is a missing body."""
    raw = b'{"prompt": "a fox"}'
    for content_type in ("application/x-www-form-urlencoded", None, "application/vnd.x+json"):
        headers = {"content-type": content_type} if content_type else {}
        request = http.build_request("POST", f"/run/{T2V}", content=raw, headers=headers)
        assert request.headers.get("content-type") == content_type  # none set for bytes
        assert http.send(request).status_code == 200, content_type
    text = http.post(f"/run/{T2V}", content=raw, headers={"content-type": "text/plain"})
    assert text.status_code == 422
    assert text.json()["detail"][0]["type"] == "model_attributes_type"
    assert text.json()["detail"][0]["input"] == raw.decode()
    empty = http.post(f"/run/{T2V}", content=b"", headers={"content-type": "application/json"})
    assert empty.json() == {
        "detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    }
    queued = http.post(f"/{T2V}", content=raw, headers={"content-type": "text/plain"})
    assert queued.status_code == 200  # accepted: the app rejects it when it runs
    assert http.get(finish(http, queued.json())["response_url"]).status_code == 422


def test_request_refusals_have_fal_shapes(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_body_bytes=1024, api_key="the:key")
    with BackgroundEmulator(config) as running, httpx.Client(base_url=running.url) as http:
        good = {"Authorization": "Key the:key"}
        no_user = {"detail": "No user found for Key ID and Secret"}
        bad_format = {
            "detail": "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
        }
        no_credentials = {"detail": "Authorization header is required"}  # fal-js issue #169
        gateway = [  # (response, status, exact body): the gateway's own answers
            (http.post(f"/{T2V}", json={"prompt": "x"}), 401, no_credentials),
            (http.post(f"/run/{T2V}", json={"prompt": "x"}), 401, no_credentials),
            (http.post("/storage/upload/initiate", json={}), 401, no_credentials),
            (
                http.post(f"/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Key a:b"}),
                401,
                no_user,
            ),
            (
                http.post(f"/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Key ab"}),
                401,
                bad_format,
            ),
            (
                http.get("/fal-ai/luma-dream-machine/requests/nope/status", headers=good),
                404,
                {"status": "NOT_FOUND"},
            ),
            (
                http.get("/fal-ai/luma-dream-machine/requests/nope", headers=good),
                404,
                {"detail": "Request not found"},
            ),
            (
                http.put("/fal-ai/luma-dream-machine/requests/nope/cancel", headers=good),
                404,
                {"status": "NOT_FOUND"},
            ),
        ]
        for response, status, body in gateway:
            assert (response.status_code, response.json()) == (status, body), response.text
            assert "x-fal-error-type" not in response.headers
        assert b'{"detail": "No user found' in gateway[3][0].content  # json.dumps spacing
        cases = [  # the emulator's own refusals where fal's body is not known: request errors
            (http.post(f"/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Basic x"}), 401),
            (http.post(f"/{T2V}", json={"prompt": "x" * 2000}, headers=good), 413),
            (http.post("/fal-ai/no-such-app/v1", json={"prompt": "x"}, headers=good), 404),
            (http.get(f"/{T2V}", headers=good), 405),
            (http.delete("/fal-ai/luma-dream-machine/requests/nope/cancel", headers=good), 405),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            body = response.json()
            assert isinstance(body["detail"], str) and body["detail"]
            assert "Traceback" not in response.text
        assert http.get("/_mock/health").json() == {"status": "ok"}
        ok = http.post(f"/{T2V}", json={"prompt": "still serving"}, headers=good)
        assert ok.status_code == 200


def test_submit_and_status_shapes(http: httpx.Client, emulator: BackgroundEmulator) -> None:
    submitted = http.post(f"/{T2V}", json={"prompt": "shapes"})
    assert submitted.status_code == 200
    body = submitted.json()
    request_id = body["request_id"]
    assert submitted.headers["x-fal-request-id"] == request_id
    base = f"{emulator.url}/fal-ai/luma-dream-machine/requests/{request_id}"
    assert body["response_url"] == base
    assert body["status_url"] == f"{base}/status"
    assert body["cancel_url"] == f"{base}/cancel"
    assert body["status"] == "IN_QUEUE" and body["queue_position"] >= 0
    for logs_off in ({}, {"logs": "false"}, {"logs": "0"}):  # fal_client's live test: None
        assert http.get(body["status_url"], params=logs_off).json()["logs"] is None
    deadline = time.monotonic() + 30
    while True:
        status = http.get(body["status_url"], params={"logs": "1"})
        if status.json()["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        assert status.status_code == 202
    assert status.status_code == 200
    final = status.json()
    assert final["metrics"]["inference_time"] >= 0
    # fal's key order and log entry shape (live captures), json.dumps spacing
    assert list(final)[:7] == [
        "status",
        "request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "logs",
        "metrics",
    ]
    # each entry as captured live: {"timestamp": "2024-12-20T15:37:17.120314", "message":
    # "...", "labels": {}}, naive UTC with microseconds, nothing else
    entries = re.findall(rb'\{"timestamp": [^{}]*\{\}\}', status.content)
    assert final["logs"] and len(entries) == len(final["logs"])
    for entry in entries:
        assert re.fullmatch(ENTRY, entry), entry
    assert status.content.startswith(b'{"status": "COMPLETED", "request_id": ')
    assert list(body) == [
        "status",
        "request_id",
        "gateway_request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "logs",
        "metrics",
        "queue_position",
    ]
    # Under the full endpoint id these are POST-only submit paths at fal: 405, not a status.
    for path in (f"/{T2V}/requests/{request_id}/status", f"/{T2V}/requests/{request_id}"):
        refused = http.get(path)
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"


def test_status_stream_ends_at_completed_with_new_logs_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, timing="fast")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, headers=AUTH, timeout=30) as http,
    ):
        request_id = http.post(f"/{T2V}", json={"prompt": "stream"}).json()["request_id"]
        events = []
        with http.stream(
            "GET",
            f"/fal-ai/luma-dream-machine/requests/{request_id}/status/stream",
            params={"logs": "1"},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
        statuses = [e["status"] for e in events]
        assert statuses[0] == "IN_QUEUE" and statuses[-1] == "COMPLETED"
        assert "IN_PROGRESS" in statuses
        order = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
        assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
        messages = [line["message"] for e in events for line in (e["logs"] or [])]
        assert len(messages) == len(set(messages)), "a log line was sent twice"
        assert messages[0].startswith("Starting generation") and messages[-1] == "Video generated"


def test_requests_survive_a_restart_with_sqlite(tmp_path: Path) -> None:
    config = make_config(tmp_path, store="sqlite", timing="fast")
    with (
        BackgroundEmulator(config) as first,
        httpx.Client(base_url=first.url, headers=AUTH, timeout=30) as http,
    ):
        done = http.post(f"/{T2V}", json={"prompt": "finished before"}).json()["request_id"]
        deadline = time.monotonic() + 30
        while http.get(f"/{APP}/requests/{done}/status").json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pending = http.post(f"/{T2V}", json={"prompt": "in flight"}).json()["request_id"]
        before = http.get(f"/{APP}/requests/{done}").json()
    with (
        BackgroundEmulator(config) as second,
        httpx.Client(base_url=second.url, headers=AUTH, timeout=30) as http,
    ):
        after = http.get(f"/{APP}/requests/{done}").json()
        assert after["video"]["file_size"] == before["video"]["file_size"]
        video = http.get(after["video"]["url"])
        assert video.status_code == 200 and len(video.content) == after["video"]["file_size"]
        deadline = time.monotonic() + 30
        while http.get(f"/{APP}/requests/{pending}/status").json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline, "the in-flight request never finished"
            time.sleep(0.05)
        assert http.get(f"/{APP}/requests/{pending}").json()["video"]["url"]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_a_422_not_a_crash(http: httpx.Client, constant: bytes) -> None:
    body = b'{"prompt": ' + constant + b"}"
    for path in (f"/{T2V}", f"/run/{T2V}"):
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        (detail,) = response.json()["detail"]
        assert detail["type"] == "json_invalid" and detail["loc"][0] == "body"


def test_a_successful_answer_states_its_billable_units(
    http: httpx.Client, emulator: BackgroundEmulator, tmp_path: Path
) -> None:
    """Live fal states its count on a successful result and sync run (``fal-ai/flux/dev``
    returns ``x-fal-billable-units: 1``, measured 2026-09-10; a ``fal.run`` 200 carried it,
    2026-05), not on a submit. The units: Ray 2's schema descriptions, 720p and 9 s each cost
    2x a 540p 5 s clip, so 720p 9 s is 4."""
    clip = tmp_path / "given.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(256))
    scenario = {"match": {"input": {"prompt": "^billed"}}, "output": {"video": str(clip)}}
    assert http.post("/_mock/scenarios", json=scenario).status_code == 200
    big = {"prompt": "billed big", "resolution": "720p", "duration": "9s"}
    answers = []
    for body in ({"prompt": "billed small"}, big):
        submitted = http.post(f"/{T2V}", json=body)
        assert "x-fal-billable-units" not in submitted.headers
        finish(http, submitted.json())
        status = http.get(submitted.json()["status_url"])
        assert status.status_code == 200 and "x-fal-billable-units" not in status.headers
        answers.append(http.get(submitted.json()["response_url"]))
    answers.append(http.post(f"/run/{T2V}", json=big))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["x-fal-billable-units"] for a in answers] == ["1", "4", "4"]
    assert http.get("/_mock/ledger").json()["total_units"] == 9, "what the cost ledger charges"


def test_headers_fal_documents_but_no_capture_shows(http: httpx.Client) -> None:
    """No ``Server`` header (none of fal's was captured; uvicorn's would be the emulator's
    own) and no ``X-Fal-Served-From`` (documented, no value ever captured)."""
    run = http.post(f"/run/{T2V}", json={"prompt": "plain headers"})
    submitted = http.post(f"/{T2V}", json={"prompt": "plain headers"})
    finish(http, submitted.json())
    result = http.get(submitted.json()["response_url"])
    for answer in (run, submitted, result):
        assert answer.status_code == 200
        assert "server" not in answer.headers
        assert "x-fal-served-from" not in answer.headers


def test_the_result_before_completion_is_the_in_progress_400(tmp_path: Path) -> None:
    """A third party's live capture (``hunyuan-video-v1.5``): 400 with the detail, the request
    id and its three URLs, no ``error_type``; fal's e2e asserts the 400, vercel/ai the text."""
    config = make_config(tmp_path, progression="manual")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, headers=AUTH) as client,
    ):
        request_id = client.post(f"/{T2V}", json={"prompt": "not yet"}).json()["request_id"]
        base = f"{running.url}/{APP}/requests/{request_id}"
        expected = {
            "detail": "Request is still in progress",
            "request_id": request_id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }
        for _ in range(2):  # queued, then running
            early = client.get(base)
            assert (early.status_code, early.json()) == (400, expected)
            assert early.content == json.dumps(expected).encode()  # the gateway's spacing (INF)
            assert "x-fal-error-type" not in early.headers
            assert early.headers["x-fal-request-id"] == request_id
            client.post(f"/_mock/requests/{request_id}/advance")
