"""The ``/_mock`` control API: what tests and the pytest fixture use to drive the emulator.

JSON only, on the emulator's own addresses (never on fal's host names, never mixed with fal's
paths). Errors keep fal's shapes so one client-side error parser reads both. Who may call it:
``control/access.py`` (open on loopback; beyond it, the admin token but for a few open routes).
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from contracts.schemas.endpoints import ENDPOINT_FACTS, cost_usd
from mockserver.bodies import read_json, read_json_object
from mockserver.chaos.parse import ScenarioError, parse_document, parse_scenario
from mockserver.fal.errors import request_error, validation_error
from mockserver.observation.journal import JournalFilter, entries_json
from mockserver.observation.masking import mask_secret
from mockserver.observation.metrics import prometheus_text
from mockserver.records import RequestRecord
from mockserver.services import services
from mockserver.serving.routing import ANY_METHOD, Handler, MethodTableRoute

LEDGER_SCAN_LIMIT = 1_000_000
ADVANCE_WAIT_SECONDS = 10.0
MAX_LIST = 2**62
"""Any larger ``limit`` means everything too (and would overflow SQLite's integers)."""


def request_not_found() -> Response:
    """The control API's and the dashboard's answer for an id the store does not hold."""
    return request_error(404, "Request not found", "request_not_found")


def query_limit(request: Request, *, default: int | None, maximum: int = MAX_LIST) -> Any:
    """``?limit=``: an integer from 1, None (everything) when absent and ``default`` is None.
    A larger value than ``maximum`` means "as many as there are" and is read as ``maximum``."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return _bad_field(["query", "limit"], "Input should be a valid integer", "int_parsing")
    if value < 1:
        return _bad_field(
            ["query", "limit"], "Input should be greater than or equal to 1", "greater_than_equal"
        )
    return min(value, maximum)


def _bad_field(loc: list[Any], msg: str, kind: str = "value_error") -> Response:
    return validation_error([{"loc": loc, "msg": msg, "type": kind}])


# -- health, clock, reset ---------------------------------------------------------------------


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


LISTENING_STATE = "listening"
"""``app.state.listening``: where the running emulator listens (set by ``serving.server``):
``port``, ``tls_port``, ``proxy_port`` and ``ca_cert`` (a path), None where off."""
CA_PATH = "/_mock/ca.pem"


def _listening(request: Request) -> dict[str, Any]:
    return getattr(request.app.state, LISTENING_STATE, None) or {}


async def server_get(request: Request) -> Response:
    """Where this emulator listens, for ``ray2-mock env --from`` (open: no secret in it)."""
    listening = _listening(request)
    return JSONResponse(
        {
            "name": "ray2-mock",
            "port": listening.get("port"),
            "tls_port": listening.get("tls_port"),
            "proxy_port": listening.get("proxy_port"),
            "ca_url": CA_PATH if listening.get("ca_cert") else None,
            "admin_token_required": services(request).config.admin_token is not None,
        }
    )


async def ca_pem(request: Request) -> Response:
    """The emulator's CA certificate (public by nature): what clients must trust in env mode."""
    ca_cert = _listening(request).get("ca_cert")
    if not ca_cert:
        return request_error(404, "This emulator runs without TLS: it has no CA", "not_found")
    return FileResponse(ca_cert, media_type="application/x-pem-file")


async def clock_get(request: Request) -> Response:
    return JSONResponse({"now": services(request).clock.now()})


MAX_ADVANCE_SECONDS = 10 * 365 * 86400
"""Ten years: beyond it timestamps stop being representable (datetime, time_t)."""


async def clock_advance(request: Request) -> Response:
    body = await read_json_object(request)
    if isinstance(body, Response):
        return body
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_ADVANCE_SECONDS
    ):
        return _bad_field(
            ["body", "seconds"],
            f"Input should be a number of seconds from 0 to {MAX_ADVANCE_SECONDS}",
            "float_type",
        )
    state = services(request)
    state.clock.advance(float(seconds))
    state.queue.advance()  # apply what fell due now, so the caller reads the new state
    return JSONResponse({"now": state.clock.now(), "advanced": seconds})


async def reset(request: Request) -> Response:
    """Back to the state at start: no requests, empty journal and metrics, initial scenarios."""
    cleared = services(request).reset()
    return JSONResponse({"status": "reset", "journal_entries_cleared": cleared})


# -- journal ----------------------------------------------------------------------------------

JOURNAL_TEXT_FILTERS = ("method", "path", "path_prefix", "route", "endpoint", "request_id")
JOURNAL_INT_FILTERS = ("status", "since")


async def journal_get(request: Request) -> Response:
    params = request.query_params
    limit = query_limit(request, default=None)
    if isinstance(limit, Response):
        return limit
    numbers: dict[str, int | None] = {}
    for name in JOURNAL_INT_FILTERS:
        raw = params.get(name)
        if raw is None:
            numbers[name] = None
            continue
        try:
            numbers[name] = int(raw)
        except ValueError:
            return _bad_field(["query", name], "Input should be a valid integer", "int_parsing")
    where = JournalFilter(
        **{name: params.get(name) for name in JOURNAL_TEXT_FILTERS},
        status=numbers["status"],
        since=numbers["since"],
    )
    journal = services(request).journal
    entries = journal.entries(where, limit)
    return JSONResponse(
        {
            "entries": entries_json(entries),
            "count": len(entries),
            "size": journal.size,
            "evicted": journal.evicted,
        }
    )


async def journal_delete(request: Request) -> Response:
    return JSONResponse({"cleared": services(request).journal.clear()})


# -- requests ---------------------------------------------------------------------------------


def record_json(record: RequestRecord) -> dict[str, Any]:
    data = record.to_dict()
    data["logs"] = record.public_logs()
    return data


async def requests_list(request: Request) -> Response:
    limit = query_limit(request, default=100)
    if isinstance(limit, Response):
        return limit
    records = services(request).store.recent(limit)
    return JSONResponse({"requests": [record_json(r) for r in records]})


async def request_get(request: Request) -> Response:
    record = services(request).queue.get(request.path_params["request_id"])
    if record is None:
        return request_not_found()
    return JSONResponse(record_json(record))


async def request_advance(request: Request) -> Response:
    """Move a request one state on (manual progression, or to hurry a timed one).

    Starting happens at once when a slot is free; finishing waits (briefly) for the video to
    exist, so the caller reads the new state right after this returns.
    """
    queue = services(request).queue
    request_id = request.path_params["request_id"]
    before = queue.get(request_id)
    if before is None:
        return request_not_found()
    if before.status == "COMPLETED":
        return request_error(409, "Request is already completed", "already_completed")
    record = queue.step(request_id)
    if record.status == before.status and (
        record.status == "IN_PROGRESS" or not queue.drives(request_id)
    ):  # the output is on its way, or the replica that drives it takes the step
        record = await _wait_for_change(queue, request_id, before.status)
    waiting_for = None
    if record.status == before.status:
        waiting_for = "a free slot" if record.status == "IN_QUEUE" else "the output"
    return JSONResponse(
        {
            "request_id": request_id,
            "previous_status": before.status,
            "status": record.status,
            "progression": record.progression,
            "waiting_for": waiting_for,
        }
    )


async def _wait_for_change(queue: Any, request_id: str, status: str) -> RequestRecord:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ADVANCE_WAIT_SECONDS
    record = queue.get(request_id)
    while record.status == status and loop.time() < deadline:
        await queue.wait_changed(timeout=min(0.25, deadline - loop.time()))
        record = queue.get(request_id)
    return record


# -- scenarios --------------------------------------------------------------------------------


async def scenarios_get(request: Request) -> Response:
    return JSONResponse(services(request).faults.to_json())


async def scenarios_post(request: Request) -> Response:
    """One scenario, or a document ``{scenarios: [...], seed, fault_rate, fault_rates, ...}``."""
    body = await read_json(request)
    if isinstance(body, Response):
        return body
    if not isinstance(body, dict | list):
        expected = "Input should be a scenario, a list or a document"
        return _bad_field(["body"], expected, "model_type")
    state = services(request)
    engine = state.faults
    single = isinstance(body, dict) and "scenarios" not in body
    document = None
    try:
        if single:
            scenarios = [parse_scenario(body)]
        else:
            document = parse_document(body)
            scenarios = list(document.scenarios)
    except ScenarioError as exc:
        return validation_error(exc.detail(("body",)))
    names = []
    for scenario in scenarios:
        if "name" not in scenario.spec:
            scenario.name = engine.unique_name()
        names += engine.add([scenario])
    if document is not None and isinstance(body, dict):
        if {"seed", "fault_rate", "fault_rates"} & body.keys():
            engine.configure_random(document.seed, document.fault_rate, document.fault_rates)
        if document.progression is not None:
            state.queue.progression = document.progression
            engine.share_progression(document.progression)
    return JSONResponse({"added": names, **engine.to_json()})


async def scenarios_delete(request: Request) -> Response:
    return JSONResponse({"cleared": services(request).faults.clear()})


async def scenario_delete(request: Request) -> Response:
    name = request.path_params["name"]
    if not services(request).faults.remove(name):
        return request_error(404, f"No scenario named {name!r}", "not_found")
    return JSONResponse({"deleted": name})


# -- metrics and ledger -----------------------------------------------------------------------


def _metrics_snapshot(request: Request) -> dict[str, Any]:
    state = services(request)
    unfinished = state.store.unfinished()
    by_status = defaultdict(int)
    for record in unfinished:
        by_status[record.status] += 1
    gauges = {
        "requests_in_queue": by_status["IN_QUEUE"],
        "requests_in_progress": by_status["IN_PROGRESS"],
        "journal_entries": len(state.journal),
    }
    return state.metrics.snapshot(state.renderer.renders_started, {"gauges": gauges})


METRICS_FORMATS = ("json", "prometheus", "text")


def _wants_prometheus(request: Request, chosen: str | None) -> bool:
    if chosen is not None:
        return chosen != "json"
    accept = request.headers.get("accept", "")
    return ("text/plain" in accept or "openmetrics" in accept) and "json" not in accept


async def metrics(request: Request) -> Response:
    chosen = request.query_params.get("format")
    if chosen is not None and chosen not in METRICS_FORMATS:
        expected = ", ".join(repr(f) for f in METRICS_FORMATS)
        return _bad_field(["query", "format"], f"Input should be {expected}", "literal_error")
    snapshot = _metrics_snapshot(request)
    if _wants_prometheus(request, chosen):
        return PlainTextResponse(
            prometheus_text(snapshot), media_type="text/plain; version=0.0.4; charset=utf-8"
        )
    return JSONResponse(snapshot)


def key_ids(keys: Iterable[str]) -> dict[str, str]:
    """The masked form of each configured key (``Key ****cret``, as records keep it) -> its
    key id: the ledger names a team's keys by id, never showing a secret."""
    return {mask_secret(f"Key {key}"): key.partition(":")[0] for key in keys}


def ledger_of(records: list[RequestRecord], keys: Iterable[str] = ()) -> dict[str, Any]:
    """Cost per API key: completed generations are billed at their endpoint's price (its units
    times its unit price, ``contracts/schemas/endpoints.json``); failed and cancelled ones not.
    A generation whose endpoint has no known price counts in ``unpriced_requests`` instead of
    dollars: the ledger does not invent a price. ``keys``: the keys the emulator accepts
    (``--api-key``, ``--api-keys``); each row of one of them names its ``key_id``, and each of
    them has a row, spent or not."""
    named = key_ids(keys)
    rows_by_key: dict[str, dict[str, Any]] = {}

    def row_of(key: str) -> dict[str, Any]:
        return rows_by_key.setdefault(
            key,
            {
                "key": key,
                "key_id": named.get(key),
                "billed_requests": 0,
                "unbilled_requests": 0,
                "unpriced_requests": 0,
                "units": 0,
                "usd": 0.0,
            },
        )

    for mask in named:
        row_of(mask)
    for record in records:
        row = row_of(record.headers.get("authorization", "unknown"))
        if record.status == "COMPLETED" and record.outcome == "ok":
            usd = cost_usd(record.endpoint_id, record.cost_units)
            row["billed_requests"] += 1
            row["units"] += record.cost_units
            if usd is None:
                row["unpriced_requests"] += 1
            else:
                row["usd"] += usd
        elif record.status == "COMPLETED":
            row["unbilled_requests"] += 1
    rows = sorted(rows_by_key.values(), key=lambda r: r["key"])
    for row in rows:
        row["usd"] = round(row["usd"], 2)
    return {
        "prices": {e: f.price and asdict(f.price) for e, f in ENDPOINT_FACTS.items()},
        "keys": rows,
        "total_units": sum(r["units"] for r in rows),
        "total_usd": round(sum(r["usd"] for r in rows), 2),
    }


async def ledger(request: Request) -> Response:
    state = services(request)
    config = state.config
    keys = (*config.api_keys, *([config.api_key] if config.api_key else []))
    return JSONResponse(ledger_of(state.store.recent(LEDGER_SCAN_LIMIT), keys))


CONTROL_TABLE: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/_mock/health", health),
    ("GET", "/_mock/server", server_get),
    ("GET", CA_PATH, ca_pem),
    ("GET", "/_mock/clock", clock_get),
    ("POST", "/_mock/clock/advance", clock_advance),
    ("POST", "/_mock/reset", reset),
    ("GET", "/_mock/journal", journal_get),
    ("DELETE", "/_mock/journal", journal_delete),
    ("GET", "/_mock/requests", requests_list),
    ("GET", "/_mock/requests/{request_id}", request_get),
    ("POST", "/_mock/requests/{request_id}/advance", request_advance),
    ("GET", "/_mock/scenarios", scenarios_get),
    ("POST", "/_mock/scenarios", scenarios_post),
    ("DELETE", "/_mock/scenarios", scenarios_delete),
    ("DELETE", "/_mock/scenarios/{name}", scenario_delete),
    ("GET", "/_mock/metrics", metrics),
    ("GET", "/_mock/ledger", ledger),
)


def control_routes() -> list[Route]:
    """One route per path of the table; a method the table lacks there is a 405."""
    by_path: dict[str, dict[str, Handler]] = defaultdict(dict)
    for method, path, handler in CONTROL_TABLE:
        by_path[path][method] = handler
    return [MethodTableRoute(path, handlers) for path, handlers in by_path.items()]


async def not_found(request: Request) -> Response:
    return request_error(404, f"No control route {request.method} {request.url.path}", "not_found")


def catch_all_routes() -> list[Route]:
    """A fal-shaped 404 for any other ``/_mock`` path (never the queue API's answer)."""
    return [
        Route("/_mock/{rest:path}", not_found, methods=ANY_METHOD),
        Route("/_mock", not_found, methods=ANY_METHOD),
    ]
