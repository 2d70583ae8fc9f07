"""fal's HTTP API for every emulated endpoint: queue submit/status/stream/result/cancel, sync run.

Handlers only translate between HTTP and ``RequestQueue``; lifecycle rules live in
``queue.py``, input rules in the schemas, error shapes in ``errors.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts.schemas.endpoints import is_app_id, owner_alias
from mockserver.bodies import read_body
from mockserver.config import Config
from mockserver.fal.auth import check_key
from mockserver.fal.catalogue import CONCURRENCY_LIMIT
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.errors import method_not_allowed, request_error
from mockserver.fal.hosts import base_url, request_urls
from mockserver.fal.operations import (
    OP_METHODS,
    REQUEST_OPS,
    REQUEST_PATH,
    FalCall,
)
from mockserver.fal.passthrough import Passthrough
from mockserver.fal.stream_logs import StreamLogs
from mockserver.fal.unknown import unknown_application, unknown_request
from mockserver.fal.validation import NO_BODY, BodyParseError, body_from_request
from mockserver.fal.wire import Answers, EncodedJSON, encode_app, gateway_json
from mockserver.observation.masking import mask_secret
from mockserver.production.video import output_body
from mockserver.queue import RequestQueue, start_timeout
from mockserver.records import PLAN_SCOPE_KEY, RequestRecord, public_lines

ROUTE_OPS = {route: op for (_, op), route in REQUEST_OPS.items()}
"""A request route's path suffix (``status`` -> ``/status``), for forwarded operations."""


def app_of(record: RequestRecord) -> str:
    """The owner/alias fal addresses this record's request by (its endpoint's first two parts)."""
    return owner_alias(record.endpoint_id)


RECORDED_HEADERS = (
    "x-fal-runner-hint",
    "x-fal-request-timeout",
    "x-fal-request-start-timeout",
    "x-fal-object-lifecycle-preference",
    "x-fal-queue-priority",
    "x-fal-no-retry",
    "x-fal-store-io",
)
IN_PROGRESS = "Request is still in progress"
"""The result route's ``detail`` before completion (fal's e2e tests, clients check it)."""
NO_BILLABLE_UNITS = ((b"x-fal-billable-units", b"0"),)
"""fal's framework on an answer that bills nothing (an input the app rejects)."""
CANCEL_RESPONSES = {
    "CANCELLATION_REQUESTED": 202,
    "ALREADY_COMPLETED": 400,
    "NOT_FOUND": 404,
}


def _query(request: Request, name: str) -> str | None:
    """One query parameter; most fal calls carry no query string, which costs no parsing."""
    return request.query_params.get(name) if request.scope.get("query_string") else None


def _flag(request: Request, name: str) -> bool:
    """A query flag: Python sends logs=true/false, JS logs=1/0."""
    return (_query(request, name) or "").lower() in ("1", "true")


def fal_ping() -> Any:
    """The stream's keep-alive comment, exactly ``: ping`` as fal's captured stream shows (the
    SSE library's own default appends a date)."""
    from sse_starlette.sse import ServerSentEvent  # on first stream, as the response class

    return ServerSentEvent(comment="ping")


def _settled(record: RequestRecord, with_logs: bool) -> bool:
    """Whether a status answer depends on the record's version alone: not while queued (the
    position moves) nor while running with logs (lines appear as time passes)."""
    return record.status == "COMPLETED" or (record.status == "IN_PROGRESS" and not with_logs)


def _recorded_headers(request: Request) -> dict[str, str]:
    """fal's request headers worth keeping on the record, and the caller's key, masked."""
    headers = {k: v for k in RECORDED_HEADERS if (v := request.headers.get(k)) is not None}
    headers["authorization"] = mask_secret(request.headers.get("authorization", ""))
    return headers


def _bad_timeout(request: Request) -> Response | None:
    try:
        start_timeout(request.headers)
    except ValueError as exc:
        return request_error(400, str(exc), "bad_request")
    return None


def _max_queue_length(request: Request) -> int | None | Response:
    """``?fal_max_queue_length=N``; a value that is no count is refused. [INF: fal's answer to
    a malformed value is not captured]"""
    raw = _query(request, "fal_max_queue_length")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        detail = f"Invalid fal_max_queue_length {raw!r}: expected a whole number of requests"
        return request_error(400, detail, "bad_request")
    return int(raw)


def _validation_failure(detail: list[dict[str, Any]]) -> Response:
    """The app's own 422, as FastAPI writes it (Starlette's ``JSONResponse`` bytes and
    headers, encoded directly); fal's framework adds billable units 0."""
    return EncodedJSON(encode_app({"detail": detail}), 422, [*NO_BILLABLE_UNITS])


class QueueApi:
    def __init__(
        self,
        queue: RequestQueue,
        config: Config,
        *,
        webhook_note: Callable[[str], str | None] | None = None,
    ) -> None:
        self.queue = queue
        self.config = config
        self.webhook_note = webhook_note
        """What to note on a request whose ``fal_webhook`` the emulator will not deliver to."""
        self.answers = Answers()
        self.passthrough = (
            Passthrough(
                config.passthrough,
                config.passthrough_key,
                config.passthrough_budget,
                config.passthrough_upstream,
            )
            if config.passthrough
            else None
        )
        self._operations = {
            "result": self.result,
            "status": self.status,
            "stream": self.stream,
            "cancel": self.cancel,
        }

    # -- shared steps -------------------------------------------------------------------------

    def check_auth(self, request: Request) -> Response | None:
        return check_key(request.headers.get("authorization", ""), self.config.accepted_keys)

    async def read_body(self, request: Request) -> Any:
        """The body as the app will be handed it (FastAPI's rules), or the refusal at the
        door: 413 over the size limit, 422 ``json_invalid``, 400 for an undecodable body."""
        raw = await read_body(request, self.config.max_body_bytes)
        if isinstance(raw, Response):
            return raw
        try:
            body, not_json = body_from_request(request.headers.get("content-type"), raw)
        except BodyParseError as exc:
            return JSONResponse({"detail": exc.detail}, 400)
        if not_json:
            return _validation_failure(not_json)
        return body

    def _record_or_404(self, request_id: str, route: str) -> RequestRecord | Response:
        record = self.queue.get(request_id)
        if record is None:
            return unknown_request(route)
        return record

    def status_body(
        self, request: Request, record: RequestRecord, logs: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """fal's status object, keys in the order live captures show them."""
        body: dict[str, Any] = {
            "status": record.status,
            "request_id": record.request_id,
            **request_urls(request, record.request_id, app_of(record)),
            "logs": None if logs is None else public_lines(logs),
            "metrics": {},
        }
        if record.status == "IN_QUEUE":
            body["queue_position"] = self.queue.position(record)
        elif record.status == "COMPLETED":
            if (inference_time := record.inference_time) is not None:
                body["metrics"] = {"inference_time": inference_time}
            if record.gateway_error:  # the app's own errors show only in the result
                body["error"] = record.error_message
                body["error_type"] = record.error_type
        return body

    def finished_response(self, request: Request, record: RequestRecord) -> Response:
        """A completed request's answer: the output, or the error as its author wrote it.

        The output carries ``x-fal-billable-units``: the units the cost ledger charges for it
        (``/_mock/ledger``), as fal states its own count on a successful answer."""
        headers = {"x-fal-request-id": record.request_id}
        if record.error is None:
            headers["x-fal-billable-units"] = str(record.cost_units)
            return JSONResponse(output_body(request, record), headers=headers)
        headers.update(record.error.get("headers", {}))
        if record.gateway_error:  # request-error shape: fal repeats the type in a header
            headers["x-fal-error-type"] = record.error_type or ""
            return gateway_json(record.error["body"], record.error["status_code"], headers)
        body, status = record.error["body"], record.error["status_code"]
        if isinstance(body, str):  # an app that answered text, not JSON [INF: its media type]
            return Response(body, status, headers, media_type="text/plain")
        return JSONResponse(body, status, headers=headers)

    # -- queue --------------------------------------------------------------------------------

    async def _accept(
        self,
        request: Request,
        endpoint_id: str,
        *,
        validate_now: bool,
        admit: Callable[[], Response | None],
        **options: Any,
    ) -> RequestRecord | Response:
        """The common start of submit and run: the gateway's checks, then a new record.

        ``admit`` is the route's own admission rule (a 429 when it refuses). The queue accepts
        input the app will reject (it fails when it runs, as at fal); ``validate_now`` answers
        the app's 422 at once instead, as sync run does."""
        if (denied := self.check_auth(request)) is not None:
            return denied
        if (refused := _bad_timeout(request)) is not None:
            return refused
        if (refused := admit()) is not None:
            return refused
        body = await self.read_body(request)
        if isinstance(body, Response):
            return body
        validation = ENDPOINTS[endpoint_id].validate(body)
        if validate_now and not validation.ok:
            return _validation_failure(validation.errors)
        webhook_url = options.get("webhook_url")
        note = None
        if webhook_url is not None and self.webhook_note is not None:
            note = self.webhook_note(webhook_url)
        record = self.queue.submit(
            endpoint_id,
            None if body is NO_BODY else body,
            validation=validation,
            headers=_recorded_headers(request),
            origin=base_url(request),
            plan=request.scope.get(PLAN_SCOPE_KEY),
            notes=() if note is None else (note,),
            **options,
        )
        await self.queue.durable()  # accepted means on disk: answered after its commit
        return record

    def _queue_room(self, request: Request, endpoint_id: str) -> Response | None:
        """A queue submit is never refused for concurrency (it waits for a slot); only
        ``fal_max_queue_length`` refuses it, when more than that many requests already wait
        for this endpoint (fal's docs). [INF: the 429's text; no type is documented]"""
        limit = _max_queue_length(request)
        if limit is None or isinstance(limit, Response):
            return limit
        if (waiting := self.queue.waiting(endpoint_id)) <= limit:
            return None
        detail = (
            f"{waiting} requests are waiting for {endpoint_id},"
            f" more than fal_max_queue_length={limit}"
        )
        return request_error(429, detail, None)

    def _free_slot(self) -> Response | None:
        """A sync run is refused at once when every slot of the account is busy (fal's
        concurrency-limits docs: "the gateway checks concurrency at request time")."""
        if self.queue.slots_taken() < self.queue.slots:
            return None
        return CONCURRENCY_LIMIT.response(429)

    async def submit(self, request: Request, endpoint_id: str) -> Response:
        if self.passthrough and self.passthrough.wants(endpoint_id, known=True):
            if (denied := self.check_auth(request)) is not None:
                return denied  # the real key is spent only for a caller this emulator accepts
            return await self.passthrough.submit(request, endpoint_id, sync=False)
        record = await self._accept(
            request,
            endpoint_id,
            validate_now=self.config.validate_at_submit,
            admit=lambda: self._queue_room(request, endpoint_id),
            priority=request.headers.get("x-fal-queue-priority", "normal"),
            webhook_url=_query(request, "fal_webhook"),
        )
        if isinstance(record, Response):
            return record
        body = {
            "status": "IN_QUEUE",
            "request_id": record.request_id,
            "gateway_request_id": record.request_id,
            **request_urls(request, record.request_id, app_of(record)),
            "logs": None,
            "metrics": {},
            "queue_position": self.queue.position(record),
        }
        return gateway_json(body, headers={"x-fal-request-id": record.request_id})

    async def request_op(self, request: Request, request_id: str, op: str) -> Response:
        if (denied := self.check_auth(request)) is not None:
            return denied
        if self.passthrough and self.passthrough.forwards(request_id):
            return await self.passthrough.operation(request, request_id, op)
        route = REQUEST_OPS.get((request.method, op))
        if route is None:
            return method_not_allowed(request.method, [OP_METHODS[op]])
        return await self._operations[route](request, request_id)

    async def status(self, request: Request, request_id: str) -> Response:
        record = self._record_or_404(request_id, "status")
        if isinstance(record, Response):
            return record
        with_logs = _flag(request, "logs")
        self.queue.note_poll(record)
        key = ("status", record.request_id, record.version, base_url(request), with_logs)
        if (known := self.answers.get(key)) is not None:
            return known
        now = self.queue.clock.now()
        logs = record.polled_logs(now, self.config.log_window_seconds) if with_logs else None
        answer = gateway_json(
            self.status_body(request, record, logs),
            200 if record.status == "COMPLETED" else 202,
            headers={"x-fal-request-id": record.request_id},
        )
        return self.answers.keep(key, answer) if _settled(record, with_logs) else answer

    async def stream(self, request: Request, request_id: str) -> Response:
        record = self._record_or_404(request_id, "stream")
        if isinstance(record, Response):
            return record
        with_logs = _flag(request, "logs")
        repeat = self.config.stream_repeat_seconds
        loop = asyncio.get_running_loop()

        async def events() -> AsyncIterator[dict[str, str]]:
            cursor = StreamLogs(self.config.log_window_seconds)
            last: tuple[Any, ...] | None = None
            sent_at = loop.time()
            while True:
                current = self.queue.get(request_id)
                if current is None:
                    return
                fresh = cursor.fresh(current, self.queue.clock.now())
                body = self.status_body(request, current, fresh if with_logs else None)
                state = (current.status, body.get("queue_position"))
                quiet_for = loop.time() - sent_at
                if state != last or fresh or (repeat and quiet_for >= repeat):
                    last, sent_at = state, loop.time()
                    yield {"data": json.dumps(body)}
                if current.status == "COMPLETED":
                    return
                await self.queue.wait_changed(timeout=0.25)

        from sse_starlette.sse import EventSourceResponse  # on first stream

        return EventSourceResponse(
            events(),
            ping=self.config.stream_keepalive_seconds,
            ping_message_factory=fal_ping,
            headers={"x-fal-request-id": request_id},
        )

    async def result(self, request: Request, request_id: str) -> Response:
        record = self._record_or_404(request_id, "result")
        if isinstance(record, Response):
            return record
        if record.status != "COMPLETED":
            return self.in_progress(request, record)
        key = ("result", record.request_id, record.version, base_url(request), False)
        if (known := self.answers.get(key)) is not None:
            return known
        return self.answers.keep(key, self.finished_response(request, record))

    def in_progress(self, request: Request, record: RequestRecord) -> Response:
        """The result asked for before completion: 400, the detail and the request's URLs, no
        ``error_type`` (a third party's capture; fal's e2e asserts the 400)."""
        body = {
            "detail": IN_PROGRESS,
            "request_id": record.request_id,
            **request_urls(request, record.request_id, app_of(record)),
        }
        return gateway_json(body, 400, headers={"x-fal-request-id": record.request_id})

    async def cancel(self, request: Request, request_id: str) -> Response:
        outcome = self.queue.cancel(request_id)
        # an unknown id is whatever the path held: echoing it in a header could be invalid
        headers = {} if outcome == "NOT_FOUND" else {"x-fal-request-id": request_id}
        return JSONResponse({"status": outcome}, CANCEL_RESPONSES[outcome], headers=headers)

    # -- sync run -----------------------------------------------------------------------------

    async def run(self, request: Request, endpoint_id: str) -> Response:
        if self.passthrough and self.passthrough.wants(endpoint_id, known=True):
            if (denied := self.check_auth(request)) is not None:
                return denied  # the real key is spent only for a caller this emulator accepts
            return await self.passthrough.submit(request, endpoint_id, sync=True)
        record = await self._accept(
            request, endpoint_id, validate_now=True, admit=self._free_slot, mode="sync"
        )
        if isinstance(record, Response):
            return record
        while record.status != "COMPLETED":
            await self.queue.wait_changed(timeout=0.25)
            record = self.queue.get(record.request_id) or record
        return self.finished_response(request, record)

    # -- dispatch -----------------------------------------------------------------------------

    async def handle(self, request: Request, call: FalCall) -> Response:
        """A call the gateway already classified (``fal.operations.classify``): a POST to
        submit or run, or a request operation with its own method."""
        if call.route == "submit" or call.route == "run":
            assert call.endpoint_id is not None
            return await (self.run if call.route == "run" else self.submit)(
                request, call.endpoint_id
            )
        if (denied := self.check_auth(request)) is not None:
            return denied
        assert call.request_id is not None
        if self.passthrough and self.passthrough.forwards(call.request_id):
            return await self.passthrough.operation(request, call.request_id, ROUTE_OPS[call.route])
        return await self._operations[call.route](request, call.request_id)

    async def dispatch(self, request: Request, path: str, *, sync: bool) -> Response:
        """Route a path on a queue (or run) host: an endpoint id, or a request operation."""
        endpoint_id = path.strip("/")
        if endpoint_id in ENDPOINTS:
            if request.method != "POST":
                return method_not_allowed(request.method, ["POST"])
            return await (self.run if sync else self.submit)(request, endpoint_id)
        match = None if sync else REQUEST_PATH.match("/" + endpoint_id)
        if match and (is_app_id(match["target"]) or self._forwards(match["request_id"])):
            return await self.request_op(request, match["request_id"], match["op"] or "")
        if match and match["target"] in ENDPOINTS and request.method != "POST":
            # fal's router: under the full endpoint id this is a submit path (POST only)
            return method_not_allowed(request.method, ["POST"])
        if (
            self.passthrough
            and request.method == "POST"
            and self.passthrough.wants(endpoint_id, known=False)
        ):
            if (denied := self.check_auth(request)) is not None:
                return denied
            return await self.passthrough.submit(request, endpoint_id, sync=sync)
        return unknown_application(endpoint_id)

    def _forwards(self, request_id: str) -> bool:
        return self.passthrough is not None and self.passthrough.forwards(request_id)
