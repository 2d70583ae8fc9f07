"""fal's HTTP surface over a real socket: shapes, status codes and every refusal."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fal_client
import httpx
import pytest

from mockserver.background import BackgroundEmulator
from tests.conftest import TEST_KEY, make_config

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


@pytest.fixture
def http(emulator: BackgroundEmulator) -> httpx.Client:
    with httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client:
        yield client


# One case per schema rule: (endpoint, body, expected loc, expected type).
SCHEMA_RULES = [
    (T2V, {}, ["body", "prompt"], "missing"),
    (T2V, {"prompt": 7}, ["body", "prompt"], "string_type"),
    (T2V, {"prompt": "x", "aspect_ratio": "1:1"}, ["body", "aspect_ratio"], "literal_error"),
    (T2V, {"prompt": "x", "resolution": "4k"}, ["body", "resolution"], "literal_error"),
    (T2V, {"prompt": "x", "duration": "10s"}, ["body", "duration"], "literal_error"),
    (T2V, {"prompt": "x", "loop": "yes"}, ["body", "loop"], "bool_type"),
    (I2V, {"prompt": "x", "image_url": 5}, ["body", "image_url"], "string_type"),
    (I2V, {"prompt": "x", "end_image_url": []}, ["body", "end_image_url"], "string_type"),
    (I2V, {"image_url": "data:,"}, ["body", "prompt"], "missing"),
    (T2V, ["not", "an", "object"], ["body"], "model_attributes_type"),
]


@pytest.mark.parametrize(("endpoint", "body", "loc", "kind"), SCHEMA_RULES)
def test_each_schema_rule_is_a_422_with_its_loc(
    http: httpx.Client, endpoint: str, body: object, loc: list[str], kind: str
) -> None:
    for path in (f"/{endpoint}", f"/run/{endpoint}"):
        response = http.post(path, json=body)
        assert response.status_code == 422, path
        detail = response.json()["detail"]
        assert [(d["loc"], d["type"]) for d in detail] == [(loc, kind)]
        assert detail[0]["msg"]


@pytest.mark.parametrize(("endpoint", "body", "loc", "kind"), SCHEMA_RULES[:6])
def test_fal_client_surfaces_the_422_detail(
    fal: fal_client.SyncClient, endpoint: str, body: object, loc: list[str], kind: str
) -> None:
    with pytest.raises(fal_client.client.FalClientHTTPError) as info:
        fal.submit(endpoint, arguments=body)
    assert info.value.status_code == 422
    assert [(d["loc"], d["type"]) for d in info.value.message] == [(loc, kind)]


def test_every_violation_is_listed(http: httpx.Client) -> None:
    body = {"aspect_ratio": "2:1", "loop": 1, "resolution": "8k", "duration": 5}
    detail = http.post(f"/{T2V}", json=body).json()["detail"]
    assert [d["loc"][1] for d in detail] == [
        "prompt",
        "aspect_ratio",
        "loop",
        "resolution",
        "duration",
    ]
    assert detail[1]["msg"] == "Input should be '16:9', '9:16', '4:3', '3:4', '21:9' or '9:21'"


def test_malformed_json_is_a_fal_shaped_422(http: httpx.Client) -> None:
    response = http.post(
        f"/{T2V}", content=b'{"prompt": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["type"] == "json_invalid" and detail["loc"][0] == "body"
    bad_utf8 = http.post(
        f"/{T2V}", content=b'{"prompt": "\xff"}', headers={"content-type": "application/json"}
    )
    assert bad_utf8.status_code == 422 and bad_utf8.json()["detail"][0]["type"] == "json_invalid"


def test_request_refusals_have_fal_shapes(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_body_bytes=1024, api_key="the-key")
    with BackgroundEmulator(config) as running, httpx.Client(base_url=running.url) as http:
        good = {"Authorization": "Key the-key"}
        cases = [
            (http.post(f"/{T2V}", json={"prompt": "x"}), 401),
            (
                http.post(f"/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Key other"}),
                401,
            ),
            (http.post(f"/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Basic x"}), 401),
            (
                http.post(
                    f"/{T2V}",
                    content=b"prompt=x",
                    headers={**good, "content-type": "application/x-www-form-urlencoded"},
                ),
                415,
            ),
            (http.post(f"/{T2V}", json={"prompt": "x" * 2000}, headers=good), 413),
            (http.post("/fal-ai/flux/dev", json={"prompt": "x"}, headers=good), 404),
            (http.get(f"/{T2V}", headers=good), 405),
            (http.get("/fal-ai/luma-dream-machine/requests/nope/status", headers=good), 404),
            (http.get("/fal-ai/luma-dream-machine/requests/nope", headers=good), 404),
            (http.delete("/fal-ai/luma-dream-machine/requests/nope/cancel", headers=good), 405),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            body = response.json()
            assert isinstance(body["detail"], str) and body["detail"]
            assert body["error_type"] == response.headers["x-fal-error-type"]
            assert "Traceback" not in response.text
        unknown = http.put("/fal-ai/luma-dream-machine/requests/nope/cancel", headers=good)
        assert (unknown.status_code, unknown.json()) == (404, {"status": "NOT_FOUND"})
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
    assert http.get(body["status_url"], params={"logs": "false"}).json()["logs"] is None
    deadline = time.monotonic() + 30
    while True:
        status = http.get(body["status_url"], params={"logs": "1"})
        if status.json()["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        assert status.status_code == 202
    assert status.status_code == 200
    final = status.json()
    assert final["metrics"]["inference_time"] >= 0
    assert final["logs"] and {"message", "level", "source", "timestamp"} <= set(final["logs"][0])
    # The full-id form works too, for hand-written clients.
    assert http.get(f"/{T2V}/requests/{request_id}/status").status_code == 200
    assert http.get(f"/{T2V}/requests/{request_id}").json()["video"]["url"]


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
        assert messages[0].startswith("Starting Ray 2") and messages[-1] == "Video ready"


def test_requests_survive_a_restart_with_sqlite(tmp_path: Path) -> None:
    config = make_config(tmp_path, store="sqlite", timing="fast")
    with (
        BackgroundEmulator(config) as first,
        httpx.Client(base_url=first.url, headers=AUTH, timeout=30) as http,
    ):
        done = http.post(f"/{T2V}", json={"prompt": "finished before"}).json()["request_id"]
        deadline = time.monotonic() + 30
        while http.get(f"/{T2V}/requests/{done}/status").json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pending = http.post(f"/{T2V}", json={"prompt": "in flight"}).json()["request_id"]
        before = http.get(f"/{T2V}/requests/{done}").json()
    with (
        BackgroundEmulator(config) as second,
        httpx.Client(base_url=second.url, headers=AUTH, timeout=30) as http,
    ):
        after = http.get(f"/{T2V}/requests/{done}").json()
        assert after["video"]["file_size"] == before["video"]["file_size"]
        video = http.get(after["video"]["url"])
        assert video.status_code == 200 and len(video.content) == after["video"]["file_size"]
        deadline = time.monotonic() + 30
        while http.get(f"/{T2V}/requests/{pending}/status").json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline, "the in-flight request never finished"
            time.sleep(0.05)
        assert http.get(f"/{T2V}/requests/{pending}").json()["video"]["url"]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_a_422_not_a_crash(http: httpx.Client, constant: bytes) -> None:
    body = b'{"prompt": ' + constant + b"}"
    for path in (f"/{T2V}", f"/run/{T2V}"):
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        (detail,) = response.json()["detail"]
        assert detail["type"] == "json_invalid" and detail["loc"][0] == "body"
