"""Contract checks shared by every target: response shapes, lifecycle invariants, the MP4.

Each check takes what a server answered (``httpx.Response`` or a parsed body) and raises
``ContractViolation`` with what was expected and what was observed. The same functions judge
the in-process emulator, any URL and live fal, which is how drift between them shows up.

Response shapes live in ``contracts/schemas/*.response.json``; the rules that a schema cannot
state (status codes per state, URLs that belong together, what may follow what) are tables and
small functions here. Facts marked [INF] in ``shared/protocol/fal-queue.md`` are kept as such:
a live run that disagrees with them is the drift report, not a reason to loosen them here.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from contracts.schemas import load_schema
from contracts.strategies import INPUT_SCHEMAS, InvalidCase

OUTPUT_SCHEMA = "ray-2.output.json"
STATUS_RANK = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
STATUS_HTTP = {"IN_QUEUE": 202, "IN_PROGRESS": 202, "COMPLETED": 200}
"""fal's docs: 202 while queued or running, 200 once completed."""
CANCEL_HTTP = {"OK": 200, "CANCELLATION_REQUESTED": 202, "ALREADY_COMPLETED": 400, "NOT_FOUND": 404}
"""[INF] fal documents the four outcomes, not their codes; clients treat only 2xx as success."""
SUBMIT_HTTP = 200
VIDEO_CONTENT_TYPE = "video/mp4"
DURATION_TOLERANCE_S = 0.5
FPS_TOLERANCE = 0.5


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


# -- lifecycle -----------------------------------------------------------------------------------


def _log_key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return (line.get("timestamp"), line.get("message"))  # what fal's own CLI dedupes on


@dataclass
class Lifecycle:
    """Everything observed about one request, checked against what may follow what.

    Feed it every status body, stream, result and cancel in the order they were received.
    Invariants: statuses only move forward; queue_position never grows while queued; logs
    only grow (polls with logs) and a stream sends each line once; a result is served only
    once the request is COMPLETED; cancel outcomes agree with the state.
    """

    request_id: str
    rank: int = 0
    position: int | None = None
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    completed: dict[str, Any] | None = None
    cancel_outcome: str | None = None
    must_be_completed: str | None = None
    """Set when an answer implied completion; the next status must then be COMPLETED."""
    history: list[str] = field(default_factory=list)

    def _violate(self, check: str, message: str, **values: Any) -> None:
        values.setdefault("observed", self.history[-8:])
        raise ContractViolation(f"lifecycle.{check}", f"{self.request_id}: {message}", **values)

    def on_status(self, body: Mapping[str, Any], *, with_logs: bool) -> None:
        status = body["status"]
        rank = STATUS_RANK[status]
        position = body.get("queue_position") if status == "IN_QUEUE" else None
        self.history.append(status if position is None else f"{status}@{position}")
        if rank < self.rank:
            self._violate(
                "forward_only",
                "status moved backwards",
                expected=f"{list(STATUS_RANK)[self.rank]} or later",
            )
        if self.cancel_outcome == "OK" and status == "IN_PROGRESS":
            self._violate(
                "cancel",
                "cancel said OK (removed from the queue), yet it started",
                expected="COMPLETED",
            )
        if self.must_be_completed and status != "COMPLETED":
            self._violate(
                "completion",
                f"{self.must_be_completed}, yet the status is {status}",
                expected="COMPLETED",
            )
        if position is not None and self.position is not None and position > self.position:
            self._violate(
                "queue_position", "queue_position grew while queued", expected=f"<= {self.position}"
            )
        if with_logs and status != "IN_QUEUE" and body.get("logs") is None:
            # fal_client's live test: status(with_logs=True) on COMPLETED has logs, not None
            self._violate("logs", "asked for ?logs=1, the status sent no logs", expected="a list")
        if with_logs and body.get("logs") is not None:
            self._on_full_logs(body["logs"])
        self.rank = max(self.rank, rank)
        self.position = position if position is not None else self.position
        if status == "COMPLETED":
            self.completed = dict(body)
            self.must_be_completed = None

    def _on_full_logs(self, lines: Sequence[Mapping[str, Any]]) -> None:
        """A polled status's lines: fal answers each poll with the lines inside a moving time
        window, not a growing prefix (fal's own CLI: "identity decides what is new"), so lines
        may drop out; they must come in time order, and one seen keeps its place."""
        keys = [_log_key(line) for line in lines]
        stamps = [key[0] for key in keys]
        if stamps != sorted(stamps, key=str):
            self._violate("logs_order", "log lines out of time order", observed=keys)
        known = [key for key in keys if key in self.logs]
        if known != [key for key in self.logs if key in known]:
            self._violate("logs_order", "lines seen before came back reordered", expected=self.logs)
        self.logs += [key for key in keys if key not in self.logs]

    def on_stream(self, events: Sequence[Mapping[str, Any]], *, with_logs: bool) -> None:
        """One stream connection's events; each event carries only new log lines."""
        seen: list[tuple[Any, ...]] = []
        for event in events:
            self.on_status({**event, "logs": None}, with_logs=False)
            fresh = [_log_key(line) for line in (event.get("logs") or [])] if with_logs else []
            repeated = [line for line in fresh if line in seen]
            if repeated:
                self._violate(
                    "stream_logs",
                    "a stream event resent log lines it already sent",
                    expected="only new lines",
                    observed=repeated,
                )
            seen.extend(fresh)
        if with_logs:
            self.logs += [key for key in seen if key not in self.logs]

    def on_result(self, response: httpx.Response) -> None:
        code = response.status_code
        self.history.append(f"result:{code}")
        if code == 200:
            if self.cancel_outcome == "OK":
                self._violate(
                    "cancel",
                    "a request cancelled while queued served a result",
                    expected="an error",
                )
            if self.completed is None:
                self.must_be_completed = "the result was served"
            elif self.completed.get("error"):
                self._violate(
                    "result",
                    "result is 200 but the status reported an error",
                    expected="the model's error",
                    observed=self.completed,
                )
            return
        # A COMPLETED status without ``error`` may still have a failed result: the app's own
        # errors (a 422, a model error) show only there, as live fal does.
        expect(
            400 <= code < 600,
            "lifecycle.result",
            f"{self.request_id}: result answered {code}",
            expected="200 once COMPLETED, the app's or the gateway's error otherwise",
            observed=body_text(response),
        )
        if self.completed is None and code not in (400, 404):
            self.must_be_completed = f"the result answered the request's error ({code})"

    def on_cancel(self, outcome: str) -> None:
        self.history.append(f"cancel:{outcome}")
        if outcome == "NOT_FOUND":
            self._violate(
                "cancel",
                "cancel did not find a request the server had accepted",
                expected="OK, CANCELLATION_REQUESTED or ALREADY_COMPLETED",
            )
        if self.completed is not None and outcome != "ALREADY_COMPLETED":
            self._violate(
                "cancel",
                f"cancel of a COMPLETED request answered {outcome}",
                expected="ALREADY_COMPLETED",
            )
        if outcome == "OK" and self.rank >= STATUS_RANK["IN_PROGRESS"]:
            self._violate(
                "cancel",
                "cancel said OK (removed from the queue) for a running request",
                expected="CANCELLATION_REQUESTED",
            )
        if outcome == "ALREADY_COMPLETED" and self.completed is None:
            self.must_be_completed = "cancel said ALREADY_COMPLETED"
        if outcome == "OK":
            self.must_be_completed = "cancel removed it from the queue"
        if self.cancel_outcome is None or outcome != "ALREADY_COMPLETED":
            self.cancel_outcome = outcome

    def finish(self) -> None:
        """After driving the request to its end: it must have COMPLETED."""
        if self.completed is None:
            self._violate("completion", "the request never reached COMPLETED", expected="COMPLETED")


# -- output ----------------------------------------------------------------------------------


def expected_spec(
    endpoint_id: str | None,
    arguments: Mapping[str, Any],
    *,
    http: httpx.Client | None = None,
    workdir: Path | None = None,
) -> Any:
    """The output an endpoint promises for ``arguments``: from the geometry tables, or, for
    reframe and modify, from the input video, read back (``contracts.sources``)."""
    from contracts.schemas.endpoints import ENDPOINT_FACTS
    from contracts.schemas.geometry import output_spec

    facts = ENDPOINT_FACTS.get(endpoint_id or "")
    if facts is None or facts.render == "generate":
        return output_spec("generate", arguments)
    from contracts.sources import read_source

    source = read_source(str(arguments[facts.video_fields[0]]), http, workdir)
    return output_spec(facts.render, arguments, source)


def check_video(
    output: Mapping[str, Any],
    arguments: Mapping[str, Any],
    *,
    http: httpx.Client,
    workdir: Path | None = None,
    endpoint_id: str | None = None,
) -> None:
    """The video URL downloads and is an MP4 of the promised geometry and duration
    (``endpoint_id`` picks the rule: reframe and modify follow their input video)."""
    from contracts.mp4probe import probe  # PyAV: only output checks need it

    video = output["video"]
    response = http.get(video["url"], timeout=120, follow_redirects=True)
    expect(
        response.status_code == 200,
        "video.download",
        "the video URL does not download",
        expected=200,
        observed={"status": response.status_code, "url": video["url"]},
    )
    kind = response.headers.get("content-type", "").split(";")[0]
    expect(
        kind == VIDEO_CONTENT_TYPE,
        "video.content_type",
        "served with the wrong type",
        expected=VIDEO_CONTENT_TYPE,
        observed=kind,
    )
    if "content_type" in video:
        expect(
            video["content_type"] == VIDEO_CONTENT_TYPE,
            "video.content_type",
            "File.content_type",
            expected=VIDEO_CONTENT_TYPE,
            observed=video["content_type"],
        )
    if video.get("file_size") is not None:
        expect(
            video["file_size"] == len(response.content),
            "video.file_size",
            "File.file_size differs from the bytes served",
            expected=len(response.content),
            observed=video["file_size"],
        )
    spec = expected_spec(endpoint_id, arguments, http=http, workdir=workdir)
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        path = Path(folder) / "output.mp4"
        path.write_bytes(response.content)
        try:
            facts = probe(path, decode=False)
        except Exception as exc:  # PyAV raises many types for a broken file
            raise ContractViolation(
                "video.mp4", "not a readable MP4", expected="MP4", observed=repr(exc)
            ) from None
    promised = {"width": spec.width, "height": spec.height}
    expect(
        (facts.width, facts.height) == (spec.width, spec.height),
        "video.geometry",
        f"wrong frame size for {dict(arguments)}",
        expected=promised,
        observed={"width": facts.width, "height": facts.height},
    )
    duration = facts.duration or (facts.frames / facts.fps if facts.fps else 0.0)
    expect(
        abs(duration - spec.duration_seconds) <= DURATION_TOLERANCE_S,
        "video.duration",
        "wrong duration",
        expected=spec.duration_seconds,
        observed=round(duration, 3),
    )
    expect(
        abs(facts.fps - spec.fps) <= FPS_TOLERANCE,
        "video.fps",
        "wrong frame rate",
        expected=spec.fps,
        observed=facts.fps,
    )
