"""fal's webhook body for each way a request can end (no sockets: the shape itself)."""

from __future__ import annotations

import json

from mockserver.records import RequestRecord
from mockserver.webhooks.dispatch import encode_payload, webhook_payload


def record(**fields: object) -> RequestRecord:
    base = dict(
        request_id="r-1",
        endpoint_id="fal-ai/luma-dream-machine/ray-2",
        input={"prompt": "x prompt"},
        submitted_at=0.0,
        eligible_at=0.0,
        run_seconds=0.0,
        status="COMPLETED",
    )
    return RequestRecord(**{**base, **fields})


MEDIA = {
    "key": "k1",
    "file_name": "output.mp4",
    "file_size": 10,
    "content_type": "video/mp4",
    "file_id": "Om3xjcOwiSCJwrXs7DUi_",
    "shard": "0a86742f",
}


def test_ok_payload_urls_follow_the_submitting_origin() -> None:
    local = webhook_payload(record(media=MEDIA, origin="http://127.0.0.1:9000"))
    assert local == {
        "request_id": "r-1",
        "gateway_request_id": "r-1",
        "status": "OK",
        "error": None,  # present on success in a live, signed capture
        "payload": {
            "video": {
                "url": "http://127.0.0.1:9000/files/b/0a86742f/Om3xjcOwiSCJwrXs7DUi__output.mp4",
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": 10,
            }
        },
    }
    through_fal = webhook_payload(record(media=MEDIA, origin="https://queue.fal.run"))
    assert through_fal["payload"]["video"]["url"] == (
        "https://v3b.fal.media/files/b/0a86742f/Om3xjcOwiSCJwrXs7DUi__output.mp4"
    )


def test_ok_body_is_written_like_the_live_capture() -> None:
    """Sorted keys at every level, json.dumps separators: the bytes a live signature covered."""
    sent = encode_payload(webhook_payload(record(media=MEDIA, origin="https://queue.fal.run")))
    assert sent.startswith(b'{"error": null, "gateway_request_id": "r-1", "payload": {"video": ')
    assert sent.endswith(b'"request_id": "r-1", "status": "OK"}')
    assert b'"content_type": "video/mp4", "file_name": "output.mp4", "file_size": 10' in sent


def test_model_error_payload_carries_the_status_and_body() -> None:
    body = {"detail": [{"loc": ["body", "image_url"], "msg": "m", "type": "file_download_error"}]}
    failed = webhook_payload(
        record(error={"status_code": 422, "error_type": "file_download_error", "body": body})
    )
    assert failed["status"] == "ERROR"
    assert failed["error"] == "Unexpected status code: 422"  # a 2026 production log's text
    assert failed["payload"] == body


def test_gateway_error_payload_carries_its_own_text() -> None:
    body = {"detail": "Request timed out", "error_type": "request_timeout"}
    timed_out = webhook_payload(
        record(error={"status_code": 504, "error_type": "request_timeout", "body": body})
    )
    assert timed_out["error"] == "Request timed out" and timed_out["payload"] == body


def test_unserialisable_payload_becomes_payload_error() -> None:
    for bad in (float("nan"), object()):
        sent = json.loads(encode_payload({"request_id": "r", "status": "OK", "payload": bad}))
        assert sent["payload"] is None and "not JSON serializable" in sent["payload_error"]
        assert sent["status"] == "OK" and sent["request_id"] == "r"
