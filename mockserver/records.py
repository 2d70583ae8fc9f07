"""The one record every part of the emulator reads: a request and where it is in its life."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

Status = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
Outcome = Literal["ok", "error", "cancelled"]
PRIORITY_RANK = {"normal": 0, "low": 1}
"""``X-Fal-Queue-Priority: low`` waits behind every normal request; unknown values are normal."""


@dataclass
class RequestRecord:
    request_id: str
    endpoint_id: str
    input: Any
    """The body as the app received it: usually a JSON object, but the queue also accepts
    what the app will reject (any JSON, the text of a non-JSON body, None for no body)."""
    submitted_at: float
    eligible_at: float
    run_seconds: float
    mode: Literal["queue", "sync"] = "queue"
    priority: str = "normal"
    seq: int = 0
    status: Status = "IN_QUEUE"
    started_at: float | None = None
    due_at: float | None = None
    completed_at: float | None = None
    cancel_requested_at: float | None = None
    outcome: Outcome | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    webhook_url: str | None = None
    origin: str | None = None
    """scheme://host the client submitted to; builds URLs when no request is at hand (webhooks)."""
    headers: dict[str, str] = field(default_factory=dict)
    cost_units: int = 1
    version: int = 0
    progression: str = "timed"
    """How the request moves: timed | immediate | manual | polls:N (see ``queue.py``)."""
    polls: int = 0
    """Status polls seen (``polls:N`` progression moves one state every N)."""
    start_gate: float | None = None
    """When a manual step (or the Nth poll) let it start; None: not yet."""
    finish_gate: float | None = None
    """When a manual step (or the 2Nth poll) let it finish; None: not yet."""
    start_deadline: float | None = None
    """``X-Fal-Request-Timeout``: fails with fal's 504 if not started by then."""
    held_position: int | None = None
    """A slow-queue scenario's reported position while the request is held."""
    extra_logs: list[dict[str, Any]] = field(default_factory=list)
    """Scenario log lines: ``{message, level, at}`` with ``at`` a fraction of the run."""
    scenario: dict[str, Any] | None = None
    """The matching scenario's name and what the model must produce (error or output)."""
    notes: list[str] = field(default_factory=list)
    """The emulator's remarks: on the request (a webhook it will not deliver), then on how it
    produced the output (cache hit, placeholder image)."""
    rejection: list[dict[str, Any]] | None = None
    """The 422 ``detail`` the app answers when this request runs (its input is invalid)."""
    arguments: dict[str, Any] | None = None
    """The input as the model sees it (validated, coerced, defaults filled in), worked out once
    at submit; None for an invalid input and for records stored before it was kept."""
    attempt: int = 1
    """Which attempt is queued or running: fal re-queues a request whose runner failed
    (``retries.py``)."""
    gateway_request_id: str | None = None
    """The current attempt's own id (webhooks carry the last one); None: the request id."""

    @property
    def priority_rank(self) -> int:
        return PRIORITY_RANK.get(self.priority, 0)

    @property
    def queue_key(self) -> tuple[int, int]:
        return (self.priority_rank, self.seq)

    @property
    def inference_time(self) -> float | None:
        """fal's ``metrics.inference_time``: run time of a request that produced output."""
        if self.outcome != "ok" or self.started_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.started_at  # unrounded, as live answers show

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else self.error.get("error_type")

    @property
    def error_detail(self) -> Any:
        """The ``detail`` of the error's body; None when the body is not a JSON object (an app
        may answer plain text: ``error["body"]`` is then a ``str``)."""
        body = None if self.error is None else self.error.get("body")
        return body.get("detail") if isinstance(body, dict) else None

    @property
    def gateway_error(self) -> bool:
        """Failed in fal's gateway (timeout, runner, cancelled in the queue), not in the app.

        Only these show on the status as ``error``/``error_type`` and come as the request-error
        shape ``{"detail": "...", "error_type": ...}``; the app's own errors (a 422, a model
        error) show only in the result, as the app wrote them."""
        return isinstance(self.error_detail, str) and bool(self.error_type)

    @property
    def error_message(self) -> str | None:
        """fal's ``error`` text: a gateway error's own, else the app's status code."""
        if self.error is None:
            return None
        if self.gateway_error:
            return str(self.error_detail)
        return f"Unexpected status code: {self.error['status_code']}"

    @property
    def gated(self) -> bool:
        """Moves only when stepped (manual) or polled (polls:N), never by time alone."""
        return self.progression == "manual" or self.progression.startswith("polls:")

    def visible_logs(self, now: float) -> list[dict[str, Any]]:
        """Log lines whose time has come; the rest of the plan stays hidden."""
        return [line for line in self.logs if line["at"] <= now]

    def log_window(self, now: float, seconds: float) -> tuple[float, float]:
        """The span a poll with ``?logs=1`` answers, as fal's gateway clamps its log query:
        ``seconds`` long (0: from the start), ending now, or at the finish once completed."""
        end = now if self.completed_at is None else min(now, self.completed_at)
        return (end - seconds if seconds > 0 else -math.inf), end

    def polled_logs(self, now: float, window_seconds: float) -> list[dict[str, Any]]:
        """The lines a status poll shows: those inside ``log_window``, a moving time window,
        not a growing prefix (both edges inclusive: an inferred detail)."""
        start, end = self.log_window(now, window_seconds)
        return [line for line in self.logs if start <= line["at"] <= end]

    def public_logs(self, now: float | None = None) -> list[dict[str, Any]]:
        """Log lines as fal sends them (without the emulator's ``at``); with ``now``, only
        those whose time has come."""
        lines = self.logs if now is None else self.visible_logs(now)
        return public_lines(lines)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        names = _field_names(cls)
        return cls(**{k: v for k, v in data.items() if k in names})

    def copy(self) -> RequestRecord:
        """An independent copy for the stores, an order of magnitude cheaper than ``to_dict``.

        Lists and dicts are copied one level deep: records change by assigning or appending
        (``logs.append``), never by editing a stored log line, input or output in place. Only
        the fields whose type can hold a container are looked at (the stores copy a record on
        every write, three times per request)."""
        twin = object.__new__(type(self))  # copy.copy's __reduce_ex__ path costs more than this
        values = self.__dict__.copy()
        for name in _container_fields(type(self)):
            value = values[name]
            if type(value) is list or type(value) is dict:
                values[name] = value.copy()
        twin.__dict__ = values
        return twin


def public_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log lines without the emulator's own ``at`` key: what a client is shown."""
    return [{k: v for k, v in line.items() if k != "at"} for line in lines]


@dataclass(frozen=True)
class RequestPlan:
    """What the fault rules decided for a request about to be created (see ``chaos/engine.py``).

    The fault middleware leaves it in the ASGI scope under ``PLAN_SCOPE_KEY``; the submit
    handler hands it to ``RequestQueue.submit``.
    """

    scenario: str | None = None
    progression: str | None = None
    hold_seconds: float = 0.0
    hold_position: int | None = None
    error: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    logs: tuple[dict[str, Any], ...] = ()
    error_attempts: int | None = None
    """How many attempts fail with ``error`` (then the model answers); None: every one."""


PLAN_SCOPE_KEY = "ray2_mock.plan"


@cache
def _field_names(cls: type[RequestRecord]) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


@cache
def _container_fields(cls: type[RequestRecord]) -> tuple[str, ...]:
    """The fields of ``cls`` annotated with a list, a dict or ``Any``."""
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if any(word in str(f.type) for word in ("list", "dict", "Any"))
    )
