"""What may follow what for one request: the invariants that need its history, not one answer.

``Lifecycle`` is fed every status, stream event, result and cancel answer of one request in the
order they arrived, and raises ``ContractViolation`` (``contracts.server.checks``) when the
story stops being one fal could tell: a status moving back, a queue position growing, log lines
coming back reordered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.server.checks import STATUS_RANK, ContractViolation, body_text, expect

IN_PROGRESS = "Request is still in progress"
"""The result route's 400 ``detail`` before completion (fal's e2e; vercel/ai checks it)."""


def _in_progress(response: httpx.Response) -> bool:
    """fal's answer to a result asked for too early: 400 with that detail."""
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("detail") == IN_PROGRESS


def _log_key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return (line.get("timestamp"), line.get("message"))  # what fal's own CLI dedupes on


@dataclass
class Lifecycle:
    """Everything observed about one request, checked against what may follow what.

    Feed it every status body, stream, result and cancel in the order they were received.
    Invariants: statuses only move forward; queue_position never grows while queued; polled
    logs are a moving time window (lines may drop out, never come back reordered) and a stream
    sends each line once; a result is served only once the request is COMPLETED; cancel
    outcomes agree with the state.
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
        if self.completed is not None and _in_progress(response):
            self._violate(
                "result",
                "the result said the request is still in progress after a COMPLETED status",
                expected="the output or the request's error",
                observed=body_text(response),
            )
        if self.completed is None and not _in_progress(response):
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
