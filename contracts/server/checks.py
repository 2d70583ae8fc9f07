"""Contract checks shared by every target: the shape of each answer, one at a time.

What needs a request's history is ``contracts.server.lifecycle``; the MP4 is
``contracts.server.video_checks``.

Each check takes what a server answered (``httpx.Response`` or a parsed body) and raises
``ContractViolation`` with what was expected and what was observed. The same functions judge
the in-process emulator, any URL and live fal, which is how drift between them shows up.

Response shapes live in ``contracts/schemas/*.response.json``; the rules that a schema cannot
state (status codes per state, URLs that belong together, what may follow what) are tables and
small functions here. Facts the ledger (docs/fidelity.md) marks INF are kept as such:
a live run that disagrees with them is the drift report, not a reason to loosen them here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from contracts.generation.strategies import INPUT_SCHEMAS, InvalidCase
from contracts.schemas import load_schema

OUTPUT_SCHEMA = "ray-2.output.json"
STATUS_RANK = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
STATUS_HTTP = {"IN_QUEUE": 202, "IN_PROGRESS": 202, "COMPLETED": 200}
"""fal's docs: 202 while queued or running, 200 once completed."""
CANCEL_HTTP = {"OK": 200, "CANCELLATION_REQUESTED": 202, "ALREADY_COMPLETED": 400, "NOT_FOUND": 404}
"""[INF] fal documents the four outcomes, not their codes; clients treat only 2xx as success."""
SUBMIT_HTTP = 200
VIDEO_CONTENT_TYPE = "video/mp4"


class ContractViolation(AssertionError):
    """One broken contract rule, with the expected and the observed value side by side."""

    def __init__(
        self, check: str, message: str, *, expected: Any = None, observed: Any = None
    ) -> None:
        self.check = check
        self.message = message
        self.expected = expected
        self.observed = observed
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"[{self.check}] {self.message}"]
        if self.expected is not None or self.observed is not None:
            lines.append(f"  expected: {_short(self.expected)}")
            lines.append(f"  observed: {_short(self.observed)}")
        return "\n".join(lines)


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def body_text(response: httpx.Response, limit: int = 300) -> str:
    """The start of a response body for a report (a stream not read yet says so)."""
    try:
        return response.text[:limit]
    except httpx.ResponseNotRead:
        return "(streamed body not read)"


def expect(condition: bool, check: str, message: str, **values: Any) -> None:
    if not condition:
        raise ContractViolation(check, message, **values)


# -- shapes ------------------------------------------------------------------------------------


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(schema_name))


def schema_problems(schema_name: str, body: Any) -> list[str]:
    """Every way ``body`` breaks the named schema, as ``path: message`` lines."""
    problems = []
    for error in sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        problems.append(f"{where}: {error.message}")
    return problems


def expect_schema(check: str, schema_name: str, body: Any) -> None:
    problems = schema_problems(schema_name, body)
    expect(
        not problems,
        check,
        f"body does not match {schema_name}",
        expected=schema_name,
        observed={"problems": problems, "body": body},
    )


def json_body(check: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise ContractViolation(
            check, "response body is not JSON", expected="JSON", observed=body_text(response)
        ) from None


def expect_code(check: str, response: httpx.Response, expected: int | Sequence[int]) -> None:
    allowed = [expected] if isinstance(expected, int) else list(expected)
    expect(
        response.status_code in allowed,
        check,
        f"{response.request.method} {response.request.url.path} answered {response.status_code}",
        expected=allowed,
        observed={"status": response.status_code, "body": body_text(response)},
    )


def expect_request_id_header(check: str, response: httpx.Response, request_id: str) -> None:
    observed = response.headers.get("x-fal-request-id")
    expect(
        observed == request_id,
        check,
        "x-fal-request-id header must name the request (JS reads requestId from it)",
        expected=request_id,
        observed=observed,
    )


def check_submit(response: httpx.Response) -> dict[str, Any]:
    """A queue submit: 200, the request id and the three URLs clients follow."""
    expect_code("submit.status_code", response, SUBMIT_HTTP)
    body = json_body("submit.body", response)
    expect_schema("submit.schema", "queue-submit.response.json", body)
    request_id = body["request_id"]
    response_url = body["response_url"]
    expect(
        response_url.rstrip("/").endswith(f"/requests/{request_id}"),
        "submit.urls",
        "response_url must end with /requests/{request_id}",
        expected=f".../requests/{request_id}",
        observed=response_url,
    )
    for name, suffix in (("status_url", "/status"), ("cancel_url", "/cancel")):
        expect(
            body[name] == response_url + suffix,
            "submit.urls",
            f"{name} must be response_url + {suffix!r}",
            expected=response_url + suffix,
            observed=body[name],
        )
    return body


def check_status(response: httpx.Response, request_id: str) -> dict[str, Any]:
    """A status poll: the schema for its state, and 202 until COMPLETED, then 200."""
    body = json_body("status.body", response)
    expect_schema("status.schema", "queue-status.response.json", body)
    expect(
        body.get("request_id", request_id) == request_id,
        "status.request_id",
        "status names another request",
        expected=request_id,
        observed=body.get("request_id"),
    )
    expected = STATUS_HTTP[body["status"]]
    expect(
        response.status_code == expected,
        "status.status_code",
        f"status {body['status']} answered with HTTP {response.status_code}",
        expected=expected,
        observed=response.status_code,
    )
    return body


def check_result(response: httpx.Response, request_id: str | None = None) -> dict[str, Any]:
    """A finished request's result (or a sync run): 200 and ``{"video": File}``."""
    expect_code("result.status_code", response, 200)
    body = json_body("result.body", response)
    expect_schema("result.schema", OUTPUT_SCHEMA, body)
    if request_id is not None:
        expect_request_id_header("result.request_id_header", response, request_id)
    return body


def check_validation_error(response: httpx.Response, case: InvalidCase) -> dict[str, Any]:
    """A one-rule-broken input: 422 with exactly one detail entry, at the expected loc."""
    expect(
        response.status_code == 422,
        "invalid_input.status_code",
        f"{case.rule}: expected a 422",
        expected=422,
        observed={"status": response.status_code, "body": body_text(response)},
    )
    body = json_body("invalid_input.body", response)
    expect_schema("invalid_input.schema", "error-validation.response.json", body)
    observed = [(tuple(d["loc"]), d["type"]) for d in body["detail"]]
    expect(
        observed == [(case.loc, case.type)],
        "invalid_input.detail",
        f"{case.rule}: one detail entry naming the broken field",
        expected=[[list(case.loc), case.type]],
        observed=[[list(loc), kind] for loc, kind in observed],
    )
    return body


def check_exact(response: httpx.Response, status: int, body: Mapping[str, Any], check: str) -> None:
    """An answer whose live form is known exactly (a captured status code and body)."""
    expect_code(check, response, status)
    observed = json_body(check, response)
    expect(observed == body, check, "body differs from fal's", expected=body, observed=observed)


def check_request_error(
    response: httpx.Response, status: int | Sequence[int], check: str
) -> dict[str, Any]:
    """An infrastructure error: the code, and ``{"detail": "...", "error_type"?}``."""
    expect_code(check, response, status)
    body = json_body(check, response)
    expect_schema(check, "error-request.response.json", body)
    header = response.headers.get("x-fal-error-type")
    if "error_type" in body and header is not None:
        expect(
            header == body["error_type"],
            check,
            "X-Fal-Error-Type differs from error_type",
            expected=body["error_type"],
            observed=header,
        )
    return body


def check_cancel(response: httpx.Response) -> str:
    """A cancel: one of fal's four outcomes, with its status code."""
    body = json_body("cancel.body", response)
    expect_schema("cancel.schema", "queue-cancel.response.json", body)
    outcome = body["status"]
    expect(
        response.status_code == CANCEL_HTTP[outcome],
        "cancel.status_code",
        f"cancel outcome {outcome} answered with HTTP {response.status_code}",
        expected=CANCEL_HTTP[outcome],
        observed=response.status_code,
    )
    return outcome


def validate_input(endpoint_id: str, body: Any) -> list[str]:
    """Problems of a request body against the endpoint's input schema (client checks)."""
    return schema_problems(INPUT_SCHEMAS[endpoint_id], body)


# -- status stream -----------------------------------------------------------------------------


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The JSON ``data`` of each SSE event; comments (keep-alives) and blank lines skipped.

    A data line that is not JSON is a violation: the JS client rejects the stream on it.
    """
    events: list[dict[str, Any]] = []
    data: list[str] = []
    for line in [*text.splitlines(), ""]:
        if not line:
            if data:
                payload = "\n".join(data)
                try:
                    events.append(json.loads(payload))
                except ValueError:
                    raise ContractViolation(  # noqa: B904 (the payload is the whole story)
                        "stream.data",
                        "SSE data is not JSON",
                        expected="JSON status object",
                        observed=payload,
                    )
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def check_stream_response(response: httpx.Response, request_id: str) -> list[dict[str, Any]]:
    """A finished status stream: SSE, every event a status, the last one COMPLETED."""
    expect_code("stream.status_code", response, 200)
    kind = response.headers.get("content-type", "")
    expect(
        kind.startswith("text/event-stream"),
        "stream.content_type",
        "the JS client needs text/event-stream",
        expected="text/event-stream",
        observed=kind,
    )
    events = parse_sse(response.text)
    expect(
        bool(events),
        "stream.events",
        "the stream carried no event",
        expected=">= 1 event",
        observed=body_text(response),
    )
    for event in events:
        expect_schema("stream.schema", "queue-status.response.json", event)
        expect(
            event.get("request_id", request_id) == request_id,
            "stream.request_id",
            "event names another request",
            expected=request_id,
            observed=event.get("request_id"),
        )
    expect(
        events[-1]["status"] == "COMPLETED",
        "stream.last_event",
        "the stream must end right after the COMPLETED event (JS resolves with the last one)",
        expected="COMPLETED",
        observed=[e["status"] for e in events],
    )
    return events
