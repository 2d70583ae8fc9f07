"""fal's webhook body for each way a request can end (no sockets: the shape itself)."""

from __future__ import annotations

import json

from mockserver.records import RequestRecord
from mockserver.webhooks.dispatch import encode_payload, webhook_payload
from tests.support import evidence, fal_js_153_payload_error, written_like_the_webhook_capture


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
    """The live, signed capture's content, encoded here, gives back the capture's bytes."""
    capture = evidence("webhook-capture.json")
    assert encode_payload(json.loads(capture)) == capture
    sent = encode_payload(webhook_payload(record(media=MEDIA, origin="https://queue.fal.run")))
    assert written_like_the_webhook_capture(sent)
    assert list(json.loads(sent)) == list(json.loads(capture))  # the same fields, in order


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


def test_an_answer_that_is_not_json_becomes_payload_error() -> None:
    """fal's words, from a live delivery (fal-js issue #153): payload null, status and error
    as for any error."""
    failed = webhook_payload(
        record(error={"status_code": 404, "error_type": None, "body": "<h1>Not Found</h1>"})
    )
    assert failed == {
        "request_id": "r-1",
        "gateway_request_id": "r-1",
        "status": "ERROR",
        "error": "Unexpected status code: 404",
        "payload": None,
        "payload_error": fal_js_153_payload_error(),
    }
    as_text = webhook_payload(
        record(error={"status_code": 500, "error_type": None, "body": '{"detail": "x"}'})
    )
    assert as_text["payload"] == {"detail": "x"} and "payload_error" not in as_text


def test_unserialisable_payload_becomes_payload_error() -> None:
    for bad in (float("nan"), object()):
        sent = json.loads(encode_payload({"request_id": "r", "status": "OK", "payload": bad}))
        assert sent["payload"] is None and sent["payload_error"] == fal_js_153_payload_error()
        assert sent["status"] == "OK" and sent["request_id"] == "r"
