"""Each check fails on the answer it exists to reject (fabricated answers, no server)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contracts.generation.strategies import T2V, InvalidCase
from contracts.server.checks import (
    ContractViolation,
    check_cancel,
    check_status,
    check_submit,
    check_validation_error,
    parse_sse,
)
from contracts.server.lifecycle import Lifecycle

BASE = "http://mock/fal-ai/luma-dream-machine/requests/r1"
URLS = {"response_url": BASE, "status_url": BASE + "/status", "cancel_url": BASE + "/cancel"}


def answer(status: int, body: Any, method: str = "GET", path: str = "/x") -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request(method, "http://mock" + path))


def queued(position: int) -> dict[str, Any]:
    return {"status": "IN_QUEUE", "queue_position": position, **URLS, "logs": None}


def running(*messages: str) -> dict[str, Any]:
    logs = [{"timestamp": f"t{i}", "message": m, "labels": {}} for i, m in enumerate(messages)]
    return {"status": "IN_PROGRESS", **URLS, "logs": logs}


DONE = {"status": "COMPLETED", **URLS, "logs": None, "metrics": {}}
DONE_WITH_LOGS = {**DONE, "logs": []}
"""What a COMPLETED status answers ?logs=1 with (a list, possibly empty)."""


def violation(check: str, action: Any) -> ContractViolation:
    with pytest.raises(ContractViolation) as info:
        action()
    assert info.value.check == check, info.value.render()
    return info.value


def test_submit_urls_must_belong_together() -> None:
    good = {"request_id": "r1", **URLS, "status": "IN_QUEUE"}
    assert check_submit(answer(200, good))["request_id"] == "r1"
    bad = {**good, "status_url": BASE + "/state"}
    violation("submit.urls", lambda: check_submit(answer(200, bad)))
    missing = {k: v for k, v in good.items() if k != "cancel_url"}
    violation("submit.schema", lambda: check_submit(answer(200, missing)))


def test_status_code_and_shape_per_state() -> None:
    assert check_status(answer(202, queued(0)), "r1")["status"] == "IN_QUEUE"
    violation("status.status_code", lambda: check_status(answer(200, queued(0)), "r1"))
    violation("status.status_code", lambda: check_status(answer(202, DONE), "r1"))
    no_position = {k: v for k, v in queued(0).items() if k != "queue_position"}
    violation("status.schema", lambda: check_status(answer(202, no_position), "r1"))
    no_logs = {k: v for k, v in running().items() if k != "logs"}
    violation("status.schema", lambda: check_status(answer(202, no_logs), "r1"))
    failed = {**DONE, "status": "FAILED"}
    violation("status.schema", lambda: check_status(answer(200, failed), "r1"))


def test_lifecycle_accepts_a_normal_life() -> None:
    life = Lifecycle("r1")
    for body in (queued(2), queued(1), running("a"), running("a", "b"), DONE_WITH_LOGS):
        life.on_status(body, with_logs=True)
    life.on_result(answer(200, {"video": {"url": "u"}}))
    life.on_cancel("ALREADY_COMPLETED")
    life.finish()


def test_lifecycle_accepts_a_sliding_log_window() -> None:
    """fal answers each poll with the lines of the last five minutes (PR #1143): old lines
    drop out of later answers."""
    life = Lifecycle("r1")
    early, late = running("a", "b"), running("a", "b", "c", "d")
    life.on_status(early, with_logs=True)
    life.on_status({**late, "logs": late["logs"][1:3]}, with_logs=True)  # b, c: a dropped out
    life.on_status({**late, "logs": late["logs"][3:]}, with_logs=True)  # d alone
    life.on_status({**DONE, "logs": late["logs"][3:]}, with_logs=True)
    assert life.logs == [(line["timestamp"], line["message"]) for line in late["logs"]]


@pytest.mark.parametrize(
    ("steps", "check"),
    [
        ([running(), queued(0)], "lifecycle.forward_only"),
        ([DONE_WITH_LOGS, running()], "lifecycle.forward_only"),
        ([queued(1), queued(2)], "lifecycle.queue_position"),
        (
            [running("a", "b"), {**running(), "logs": running("a", "b")["logs"][::-1]}],
            "lifecycle.logs_order",
        ),
    ],
)
def test_lifecycle_rejects(steps: list[dict[str, Any]], check: str) -> None:
    life = Lifecycle("r1")
    *before, last = steps
    for body in before:
        life.on_status(body, with_logs=True)
    violation(check, lambda: life.on_status(last, with_logs=True))


def test_a_status_that_ignores_logs_1_is_caught() -> None:
    """fal_client's live test: status(with_logs=True) on COMPLETED has logs, not None."""
    violation("lifecycle.logs", lambda: Lifecycle("r1").on_status(DONE, with_logs=True))
    Lifecycle("r1").on_status(DONE, with_logs=False)  # not asked for: null is right
    Lifecycle("r1").on_status(queued(0), with_logs=True)  # queued: nothing ran, null is fine


EARLY = {"detail": "Request is still in progress", "request_id": "r1", **URLS}
"""fal's 400 for a result asked for before completion (a third party's live capture)."""


def test_only_fals_in_progress_400_may_answer_an_early_result() -> None:
    life = Lifecycle("r1")
    life.on_status(queued(0), with_logs=False)
    life.on_result(answer(400, EARLY))  # too early: the request goes on
    life.on_status(running(), with_logs=False)
    for other in (answer(400, {"detail": "Bad request"}), answer(404, {"detail": "x"})):
        failed = Lifecycle("r1")  # any other 4xx is the request's error: it must have completed
        failed.on_status(queued(0), with_logs=False)
        failed.on_result(other)
        with pytest.raises(ContractViolation, match="yet the status is IN_PROGRESS"):
            failed.on_status(running(), with_logs=False)
    life = Lifecycle("r1")
    life.on_status(DONE, with_logs=False)
    violation("lifecycle.result", lambda: life.on_result(answer(400, EARLY)))


def test_result_before_completion_must_be_followed_by_completed() -> None:
    life = Lifecycle("r1")
    life.on_status(queued(0), with_logs=False)
    life.on_result(answer(200, {"video": {"url": "u"}}))
    violation("lifecycle.completion", lambda: life.on_status(running(), with_logs=False))
    life = Lifecycle("r1")  # a model error in the result: the request must have completed
    life.on_result(answer(500, {"detail": [{"loc": ["body"], "msg": "boom", "type": "x"}]}))
    violation("lifecycle.completion", lambda: life.on_status(running(), with_logs=False))
    life = Lifecycle("r1")
    violation("lifecycle.result", lambda: life.on_result(answer(302, {})))


def test_an_app_error_after_a_clean_completed_status_is_fine() -> None:
    """fal's app errors (a 422) show only in the result, never on the status."""
    life = Lifecycle("r1")
    life.on_status(DONE, with_logs=False)
    life.on_result(
        answer(422, {"detail": [{"loc": ["body", "prompt"], "msg": "m", "type": "missing"}]})
    )


def test_cancel_semantics() -> None:
    life = Lifecycle("r1")
    life.on_status(queued(0), with_logs=False)
    life.on_cancel("OK")
    violation("lifecycle.cancel", lambda: life.on_status(running(), with_logs=False))
    life = Lifecycle("r1")
    life.on_cancel("OK")
    life.on_status(DONE, with_logs=False)
    violation("lifecycle.cancel", lambda: life.on_result(answer(200, {"video": {"url": "u"}})))
    life = Lifecycle("r1")
    life.on_status(DONE, with_logs=False)
    violation("lifecycle.cancel", lambda: life.on_cancel("CANCELLATION_REQUESTED"))
    life = Lifecycle("r1")
    life.on_status(running(), with_logs=False)
    violation("lifecycle.cancel", lambda: life.on_cancel("OK"))
    violation("lifecycle.cancel", lambda: Lifecycle("r1").on_cancel("NOT_FOUND"))
    violation(
        "cancel.status_code", lambda: check_cancel(answer(200, {"status": "ALREADY_COMPLETED"}))
    )


def test_stream_must_send_each_log_line_once() -> None:
    life = Lifecycle("r1")
    events = [running("a"), running("a", "b"), DONE]
    violation("lifecycle.stream_logs", lambda: life.on_stream(events, with_logs=True))


def test_sse_parsing() -> None:
    text = (
        ': ping\r\n\r\ndata: {"status": "IN_QUEUE"}\r\n\r\n: keepalive\n\ndata: {"a":\ndata: 1}\n\n'
    )
    assert parse_sse(text) == [{"status": "IN_QUEUE"}, {"a": 1}]
    violation("stream.data", lambda: parse_sse("data: not json\n\n"))


def test_validation_error_must_name_exactly_the_broken_field() -> None:
    case = InvalidCase(
        T2V, {"prompt": 5}, ("body", "prompt"), "string_type", "prompt: not a string"
    )
    good = {
        "detail": [
            {
                "loc": ["body", "prompt"],
                "msg": "Input should be a valid string",
                "type": "string_type",
            }
        ]
    }
    check_validation_error(answer(422, good, "POST"), case)
    extra = {
        "detail": [*good["detail"], {"loc": ["body", "loop"], "msg": "m", "type": "bool_type"}]
    }
    violation("invalid_input.detail", lambda: check_validation_error(answer(422, extra), case))
    violation("invalid_input.status_code", lambda: check_validation_error(answer(400, good), case))
