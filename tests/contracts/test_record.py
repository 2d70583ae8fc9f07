"""Recording redacts by construction: fabricated live answers full of secrets come out clean."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from contracts.record import Example, Redactor, example, record, save
from contracts.targets import Target

KEY = "d6c7a1b2-3c4d-5e6f-7a8b-9c0d1e2f3a4b:0123456789abcdef0123456789abcdef"
RID = "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b"
QUEUE = f"https://queue.fal.run/fal-ai/luma-dream-machine/requests/{RID}"


def live_answer(status: int, body: object, path: str, headers: dict[str, str]) -> httpx.Response:
    request = httpx.Request("GET", f"https://queue.fal.run{path}")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_secrets_ids_and_signatures_never_reach_the_file(tmp_path: Path) -> None:
    redactor = Redactor(secrets=[KEY])
    status = live_answer(
        200,
        {
            "status": "COMPLETED",
            "request_id": RID,
            "response_url": QUEUE,
            "status_url": QUEUE + "/status",
            "cancel_url": QUEUE + "/cancel",
            "logs": [
                {
                    "message": f"auth Key {KEY}",
                    "level": "INFO",
                    "source": "USER",
                    "timestamp": "2025-01-01T00:00:00",
                }
            ],
            "metrics": {"inference_time": 61.2},
            "debug_token": KEY,
        },
        f"/fal-ai/luma-dream-machine/requests/{RID}/status",
        {
            "x-fal-request-id": RID,
            "set-cookie": f"s={KEY}",
            "authorization": f"Key {KEY}",
            "content-type": "application/json",
        },
    )
    result = live_answer(
        200,
        {
            "video": {
                "url": f"https://v3.fal.media/files/penguin/Om3xj_output.mp4?sig={KEY}",
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": 1234,
            }
        },
        f"/fal-ai/luma-dream-machine/requests/{RID}",
        {"x-fal-request-id": RID, "content-type": "application/json"},
    )
    examples = [
        example(redactor, "status", status, "queue-status.response.json"),
        example(redactor, "result", result, "ray-2.output.json"),
    ]
    assert [e.problems for e in examples] == [[], []]  # checked before redaction
    files = save(examples, tmp_path, redactor)
    text = "".join(f.read_text() for f in files)
    for secret in (KEY, RID, "sig=", "penguin", "set-cookie", "authorization"):
        assert secret not in text, secret
    saved_status = json.loads(files[0].read_text())
    body = saved_status["body"]
    assert body["status"] == "COMPLETED"
    assert body["request_id"] == "<request-id-1>"
    assert body["status_url"].endswith("/requests/<request-id-1>/status")
    assert body["logs"][0]["message"] == "auth Key <redacted-secret>"
    assert body["debug_token"] == f"<string:{len(KEY)}>"
    assert body["metrics"] == {"inference_time": 61.2}
    assert saved_status["headers"] == {
        "content-type": "application/json",
        "x-fal-request-id": "<request-id-1>",
    }
    assert saved_status["path"] == "/fal-ai/luma-dream-machine/requests/<request-id-1>/status"
    video = json.loads(files[1].read_text())["body"]["video"]
    assert video == {
        "url": "https://v3.fal.media/files/<redacted>/Om3xj_output.mp4?<redacted>",
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": 1234,
    }


def test_a_body_that_breaks_its_schema_is_recorded_with_the_problem() -> None:
    response = live_answer(200, {"status": "FAILED"}, "/x/requests/r/status", {})
    recorded = example(Redactor(), "odd", response, "queue-status.response.json")
    assert any("'FAILED' is not one of" in p for p in recorded.problems), recorded.problems


def test_save_refuses_a_secret_that_slipped_through(tmp_path: Path) -> None:
    leaky = Example("leaky", None, "GET", "/", 200, {}, {"message": KEY})
    with pytest.raises(RuntimeError, match="secret survived"):
        save([leaky], tmp_path, Redactor(secrets=[KEY]))
    assert not list(tmp_path.iterdir())


def test_record_refuses_anything_but_live(tmp_path: Path) -> None:
    target = Target(name="mock", queue_url="http://127.0.0.1:1", run_url="", key="k")
    with pytest.raises(ValueError, match="live"):
        record(target, tmp_path)
