"""fal's webhook body for each way a request can end (no sockets: the shape itself)."""

from __future__ import annotations

import json

from mockserver.records import RequestRecord
from mockserver.webhooks import encode_payload, webhook_payload


def record(**fields: object) -> RequestRecord:
    base = dict(
        request_id="r-1",
        endpoint_id="fal-ai/luma-dream-machine/ray-2",
        input={"prompt": "x"},
        submitted_at=0.0,
        eligible_at=0.0,
        run_seconds=0.0,
        status="COMPLETED",
    )
    return RequestRecord(**{**base, **fields})


def test_ok_payload_urls_follow_the_submitting_origin() -> None:
    media = {"key": "k1", "file_name": "output.mp4", "file_size": 10, "content_type": "video/mp4"}
    local = webhook_payload(record(media=media, origin="http://127.0.0.1:9000"))
    assert local == {
        "request_id": "r-1",
        "gateway_request_id": "r-1",
        "status": "OK",
        "payload": {
            "video": {
                "url": "http://127.0.0.1:9000/files/mock/k1.mp4",
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": 10,
            }
        },
    }
    through_fal = webhook_payload(record(media=media, origin="https://queue.fal.run"))
    assert through_fal["payload"]["video"]["url"] == "https://v3.fal.media/files/mock/k1.mp4"


def test_model_error_payload_carries_the_status_and_body() -> None:
    body = {"detail": [{"loc": ["body", "image_url"], "msg": "m", "type": "file_download_error"}]}
    failed = webhook_payload(
        record(error={"status_code": 422, "error_type": "file_download_error", "body": body})
    )
    assert failed["status"] == "ERROR"
    assert failed["error"] == "Invalid status code: 422"
    assert failed["payload"] == body


def test_unserialisable_payload_becomes_payload_error() -> None:
    for bad in (float("nan"), object()):
        sent = json.loads(encode_payload({"request_id": "r", "status": "OK", "payload": bad}))
        assert sent["payload"] is None and "not JSON serializable" in sent["payload_error"]
        assert sent["status"] == "OK" and sent["request_id"] == "r"
