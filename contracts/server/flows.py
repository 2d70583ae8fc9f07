"""The request flows the suite drives over raw HTTP, each step judged by ``checks``.

A ``Handle`` follows the URLs the submit answered with (as fal's clients do), and carries the
request's ``Lifecycle`` so every later answer is checked against what came before it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.server.checks import (
    ContractViolation,
    check_cancel,
    check_result,
    check_status,
    check_stream_response,
    check_submit,
    expect_code,
    expect_schema,
    parse_sse,
)
from contracts.server.lifecycle import Lifecycle
from contracts.server.targets import Target

STREAM_TIMEOUT = httpx.Timeout(60.0, connect=30.0)
"""Longer than fal's 15 s keep-alive interval, so a quiet stream is not mistaken for dead."""


@dataclass
class Handle:
    endpoint_id: str
    arguments: Any
    request_id: str
    response_url: str
    status_url: str
    cancel_url: str
    life: Lifecycle
    submit_body: dict[str, Any] = field(default_factory=dict)


def submit(target: Target, http: httpx.Client, endpoint_id: str, arguments: Any) -> Handle:
    """Charge the budget, submit, check the answer (the queue accepts any JSON body)."""
    target.charge(endpoint_id, arguments)
    body_sent = dict(arguments) if isinstance(arguments, Mapping) else arguments
    response = http.post(target.submit_url(endpoint_id), json=body_sent)
    body = check_submit(response)
    return Handle(
        endpoint_id=endpoint_id,
        arguments=body_sent,
        request_id=body["request_id"],
        response_url=body["response_url"],
        status_url=body["status_url"],
        cancel_url=body["cancel_url"],
        life=Lifecycle(body["request_id"]),
        submit_body=body,
    )


def status(http: httpx.Client, handle: Handle, *, with_logs: bool = True) -> dict[str, Any]:
    response = http.get(handle.status_url, params={"logs": "1" if with_logs else "0"})
    body = check_status(response, handle.request_id)
    handle.life.on_status(body, with_logs=with_logs)
    return body


def wait_completed(
    target: Target, http: httpx.Client, handle: Handle, *, with_logs: bool = True
) -> dict[str, Any]:
    """Poll until COMPLETED (every answer checked); a violation if it takes too long."""
    deadline = time.monotonic() + target.completion_timeout
    while True:
        body = status(http, handle, with_logs=with_logs)
        if body["status"] == "COMPLETED":
            return body
        if time.monotonic() > deadline:
            raise ContractViolation(
                "lifecycle.timeout",
                f"{handle.request_id} did not complete in {target.completion_timeout:.0f} s",
                expected="COMPLETED",
                observed=handle.life.history[-5:],
            )
        target.pause()


def result(http: httpx.Client, handle: Handle) -> httpx.Response:
    """GET the result; the lifecycle judges whether its code fits the state."""
    response = http.get(handle.response_url)
    handle.life.on_result(response)
    return response


def finished_output(http: httpx.Client, handle: Handle) -> dict[str, Any]:
    """The result of a request known to be COMPLETED without error: the output, checked."""
    response = result(http, handle)
    return check_result(response, handle.request_id)


def cancel(http: httpx.Client, handle: Handle) -> str:
    outcome = check_cancel(http.put(handle.cancel_url))
    handle.life.on_cancel(outcome)
    return outcome


def stream(http: httpx.Client, handle: Handle, *, with_logs: bool = True) -> list[dict[str, Any]]:
    """Read the status stream to its end; check the events and feed them to the lifecycle."""
    url = handle.status_url + "/stream"
    params = {"logs": "1" if with_logs else "0"}
    with http.stream("GET", url, params=params, timeout=STREAM_TIMEOUT) as response:
        response.read()
    events = check_stream_response(response, handle.request_id)
    handle.life.on_stream(events, with_logs=with_logs)
    return events


def first_stream_event(http: httpx.Client, handle: Handle) -> dict[str, Any] | None:
    """Open the stream, take its first event, hang up (the request may still be running)."""
    url = handle.status_url + "/stream"
    with http.stream("GET", url, params={"logs": "0"}, timeout=STREAM_TIMEOUT) as response:
        expect_code("stream.status_code", response, 200)
        buffer = ""
        for chunk in response.iter_text():
            buffer += chunk.replace("\r\n", "\n")
            complete = buffer[: buffer.rfind("\n\n") + 2] if "\n\n" in buffer else ""
            events = parse_sse(complete)
            if events:
                expect_schema("stream.schema", "queue-status.response.json", events[0])
                handle.life.on_stream(events[:1], with_logs=False)
                return events[0]
    return None
