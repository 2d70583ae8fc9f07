"""What the dashboard shows of a request: plain dicts built from the one ``RequestRecord``.

The page never reads raw records: these view models add what only the server knows (queue
position, the emulated clock, the video URL as this client must fetch it) and cut what a
browser should not be sent again and again (multi-megabyte ``data:`` URIs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.schemas.endpoints import input_fields
from contracts.schemas.geometry import output_spec
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.records import RequestRecord

PARAM_FIELDS = ("aspect_ratio", "resolution", "duration", "loop", "mode")
PROMPT_EXCERPT_CHARS = 120
LONG_VALUE_CHARS = 200
"""Strings longer than this (``data:`` URIs, mostly) are cut in the JSON the page shows."""
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})


def excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shortened(value: Any) -> Any:
    """A JSON value with every over-long string cut, so the input viewer stays readable."""
    if isinstance(value, str) and len(value) > LONG_VALUE_CHARS:
        return f"{value[:LONG_VALUE_CHARS]}… ({len(value)} characters)"
    if isinstance(value, dict):
        return {k: shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shortened(v) for v in value]
    return value


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    """Recorded headers as a page may show them: credentials reduced to their last 4 chars."""
    return {
        name: f"{value.partition(' ')[0]} ****{value[-4:]}" if name in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def image_preview_path(request_id: str, field: str) -> str:
    return f"/_mock/ui/requests/{request_id}/images/{field}"


def _error_view(record: RequestRecord) -> dict[str, Any] | None:
    """The error a person wants to read: the model's own messages, not fal's status text."""
    if record.error is None:
        return None
    detail = record.error_detail
    messages = (
        [str(item["msg"]) for item in detail if isinstance(item, dict) and item.get("msg")]
        if isinstance(detail, list)
        else []
    )
    return {
        "message": "; ".join(messages) or record.error_message,
        "type": record.error.get("error_type"),
        "status_code": record.error.get("status_code"),
    }


def video_size(record: RequestRecord, arguments: dict[str, Any]) -> dict[str, int] | None:
    """The output's size: what the file holds once made, else what the input asks for (None
    while a reframe or modify has not read its input video yet)."""
    media = record.media or {}
    if "width" in media and "height" in media:
        return {"width": media["width"], "height": media["height"]}
    endpoint = ENDPOINTS.get(record.endpoint_id)
    try:
        spec = output_spec(endpoint.facts.render if endpoint else "generate", arguments)
    except ValueError:  # an input video decides it, or the record holds no valid input
        return None
    return {"width": spec.width, "height": spec.height}


def summary(
    record: RequestRecord,
    *,
    now: float,
    position: int | None,
    video_url: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """One row of the live list; ``position`` is the queue position of an IN_QUEUE record."""
    endpoint = ENDPOINTS.get(record.endpoint_id)
    sent = record.input if isinstance(record.input, dict) else {}  # the queue accepts any body
    arguments = endpoint.arguments_of(record) if endpoint else dict(sent)
    size = video_size(record, arguments)
    fields = endpoint.input_schema_doc()["properties"] if endpoint else sent
    prompt = sent.get("prompt")
    end = record.completed_at if record.completed_at is not None else now
    image_fields, video_fields = input_fields(record.endpoint_id)
    images = {
        field: {
            "url": excerpt(url, LONG_VALUE_CHARS),
            "preview": image_preview_path(record.request_id, field),
        }
        for field in image_fields
        if isinstance(url := sent.get(field), str) and url
    }
    videos = {
        field: {"url": excerpt(url, LONG_VALUE_CHARS)}
        for field in video_fields
        if isinstance(url := sent.get(field), str) and url
    }
    return {
        "request_id": record.request_id,
        "endpoint_id": record.endpoint_id,
        "kind": endpoint.kind if endpoint else None,
        "label": endpoint.label if endpoint else None,
        "fidelity": endpoint.facts.fidelity if endpoint else None,
        "mode": record.mode,
        "priority": record.priority,
        "status": record.status,
        "outcome": record.outcome,
        "queue_position": position if record.status == "IN_QUEUE" else None,
        "prompt": excerpt(prompt, PROMPT_EXCERPT_CHARS) if isinstance(prompt, str) else None,
        "params": {name: arguments.get(name) for name in PARAM_FIELDS if name in fields},
        "video_size": size,
        "cost_units": record.cost_units,
        "submitted_at": record.submitted_at,
        "started_at": record.started_at,
        "completed_at": record.completed_at,
        "elapsed": round(max(end - record.submitted_at, 0.0), 3),
        "inference_time": record.inference_time,
        "log_count": len(record.visible_logs(now)),
        "video_url": video_url(record.media) if record.media else None,
        "input_images": images,
        "input_videos": videos,
        "error": _error_view(record),
    }


def detail(
    record: RequestRecord,
    *,
    now: float,
    position: int | None,
    video_url: Callable[[dict[str, Any]], str],
    output: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything about one request: the summary plus input, logs so far and the output."""
    return {
        **summary(record, now=now, position=position, video_url=video_url),
        "input": shortened(record.input),
        "headers": masked_headers(record.headers),
        "webhook_url": record.webhook_url,
        "logs": record.public_logs(now),
        "notes": list(record.notes),
        "output": output,
    }
