"""Recording redacts by construction: fabricated live answers full of secrets come out clean."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import httpx
import pytest

from contracts.live.record import (
    Example,
    Redactor,
    example,
    record,
    save,
    secrets_of,
    write_atomically,
)
from contracts.server.targets import Target

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
    for secret in (KEY, RID, "sig=", "penguin", "Om3xj", "set-cookie", "authorization"):
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
        "url": "https://v3.fal.media/files/<redacted>/<file-id>_output.mp4?<redacted>",
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": 1234,
    }


def test_a_body_that_breaks_its_schema_is_recorded_with_the_problem() -> None:
    response = live_answer(200, {"status": "FAILED"}, "/x/requests/r/status", {})
    recorded = example(Redactor(), "odd", response, "queue-status.response.json")
    assert any("'FAILED' is not one of" in p for p in recorded.problems), recorded.problems


def test_save_refuses_a_secret_that_slipped_through(tmp_path: Path) -> None:
    """Checked before anything is written: a clean example ahead of the leak is not saved
    either, so a refused recording leaves no half set behind."""
    clean = Example("clean", None, "GET", "/", 200, {}, {"message": "fine"})
    leaky = Example("leaky", None, "GET", "/", 200, {}, {"message": KEY})
    with pytest.raises(RuntimeError, match="secret survived"):
        save([clean, leaky], tmp_path / "out", Redactor(secrets=[KEY]))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (
            "https://v3b.fal.media/files/b/0aa51586/ChbLVamieq0jg2QfjQE6q_output.mp4",
            "https://v3b.fal.media/files/<redacted>/<file-id>_output.mp4",
        ),
        (
            "https://v3.fal.media/files/penguin/Om3xjcOwiSCJwrXs7DUi__output.mp4",
            "https://v3.fal.media/files/<redacted>/<file-id>_output.mp4",  # the id ends in _
        ),
        (
            "https://v3.fal.media/files/uploads/a1b2c3/frame.png?token=abc",
            "https://v3.fal.media/files/<redacted>/<file>?<redacted>",
        ),
    ],
    ids=["current output", "older output", "no id in the name"],
)
def test_cdn_urls_keep_only_the_shape(url: str, redacted: str) -> None:
    """Folder, shard and file id are per-user tokens; only the host and file name stay."""
    assert Redactor().url(url) == redacted


def test_the_key_halves_are_secrets_too(tmp_path: Path) -> None:
    """A log line naming only the key id (or the secret) is scrubbed as well."""
    key_id, secret = KEY.split(":")
    assert secrets_of(KEY) == [KEY, key_id, secret]
    assert secrets_of("a:b") == ["a:b"]  # halves this short would match by chance
    redactor = Redactor(secrets=secrets_of(KEY))
    body = redactor.body({"message": f"key id {key_id} used", "detail": f"secret {secret}"})
    assert body == {
        "message": "key id <redacted-secret> used",
        "detail": "secret <redacted-secret>",
    }


def test_a_failed_write_leaves_the_previous_file_and_no_fragment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (or a crash) mid-write: the old recording stays whole, nothing half-written
    or temporary is left beside it."""
    target = tmp_path / "t2v-result.json"
    write_atomically(target, '{"old": true}\n')

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, '{"new": true}\n' * 1000)
    assert target.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["t2v-result.json"]


def test_record_refuses_anything_but_live(tmp_path: Path) -> None:
    target = Target(name="mock", queue_url="http://127.0.0.1:1", run_url="", key="k")
    with pytest.raises(ValueError, match="live"):
        record(target, tmp_path)
