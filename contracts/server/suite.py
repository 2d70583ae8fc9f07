"""The contract suite: named cases, each judging one part of the contract on any target.

``run_suite(target)`` runs every case and returns one ``CaseResult`` per case (passed,
failed with a readable report, or skipped with the reason: budget, live-only, ...). The CLI
(``ray2-mock check``) and the pytest module (``contracts.pytest.suite_tests``) both call it.

Each endpoint of the family has its own cases (``invalid_inputs[<short>]``,
``enum_coverage[<short>]``, ``generated_inputs[<short>]``, ``sync_run[<short>]``; the short
names come from the endpoint table); the protocol cases (errors, stream, cancel, the state
machine) run on the chosen endpoints (``endpoints=``; all by default, the first for the
single-request cases). Reframe and modify are fed a small MP4 ``data:`` URI and their output is
judged against that input video, read back.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from hypothesis import given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from contracts.generation.profiles import profile_settings
from contracts.generation.strategies import (
    ENDPOINT_IDS,
    INPUT_SCHEMAS,
    SHORT_NAMES,
    InvalidCase,
    covering_inputs,
    every_rule,
    invalid_inputs,
    minimal_input,
    valid_inputs,
)
from contracts.schemas.endpoints import ENDPOINT_FACTS
from contracts.server import flows
from contracts.server.checks import (
    ContractViolation,
    check_exact,
    check_request_error,
    check_result,
    check_validation_error,
    expect,
    json_body,
)
from contracts.server.netfail import Unreachable, describe
from contracts.server.targets import BudgetExhausted, Target
from contracts.server.video_checks import check_video

ENDPOINTS = dict(SHORT_NAMES)
"""Short name -> endpoint id, for every family member (``endpoints.json``)."""
CHEAPEST = {"resolution": st.just("540p"), "duration": st.just("5s")}
"""Live runs keep generated inputs at one cost unit each."""
Outcome = Literal["passed", "failed", "skipped"]


class Skip(Exception):
    """The case cannot run on this target; the message says why."""


@dataclass
class SuiteContext:
    target: Target
    settings: Settings
    http: httpx.Client
    workdir: Path | None = None
    strict: bool = False
    """A rule the target gave no chance to check fails instead of being reported skipped."""
    endpoints: tuple[str, ...] = ENDPOINT_IDS
    """The endpoints under test; the single-request protocol cases use the first."""

    @property
    def primary(self) -> str:
        return self.endpoints[0]

    def arguments(self, prompt: str) -> dict[str, Any]:
        """The smallest valid input of the primary endpoint, with this prompt."""
        return minimal_input(self.primary, prompt=prompt)


@dataclass
class CaseResult:
    name: str
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        head = f"{self.outcome.upper():8} {self.name} ({self.seconds:.1f} s)"
        return head if not self.detail else f"{head}\n    " + self.detail.replace("\n", "\n    ")


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[SuiteContext], str | None]
    live_only: bool = False
    endpoint: str | None = None
    """The one endpoint a per-endpoint case judges; None for the protocol cases."""


# -- helpers -----------------------------------------------------------------------------------


def _affordable(
    ctx: SuiteContext, endpoint: str, inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The inputs the budget affords, cheapest first (all of them off live)."""
    budget = ctx.target.budget
    if budget.limit is None:
        return inputs
    chosen, left = [], budget.limit - budget.spent
    for arguments in sorted(inputs, key=lambda a: ctx.target.cost(endpoint, a)):
        units = ctx.target.cost(endpoint, arguments)
        if units <= left:
            chosen.append(arguments)
            left -= units
    return chosen


OUTPUT_CHECKS: dict[str, Callable[..., None]] = {"video": check_video}
"""How an output is judged, by the producer the endpoint's row names (``endpoints.json``)."""


def check_output(ctx: SuiteContext, endpoint_id: str, output: Any, arguments: Any) -> None:
    """The output checks of the endpoint's producer: the file behind it, of the promised kind."""
    check = OUTPUT_CHECKS[ENDPOINT_FACTS[endpoint_id].producer]
    check(output, arguments, http=ctx.http, workdir=ctx.workdir, endpoint_id=endpoint_id)


def _generate(ctx: SuiteContext, handle: flows.Handle, *, video: bool = True) -> None:
    flows.wait_completed(ctx.target, ctx.http, handle)
    output = flows.finished_output(ctx.http, handle)
    if video:
        check_output(ctx, handle.endpoint_id, output, handle.arguments)


def _cheapest(endpoint: str) -> dict[str, st.SearchStrategy[Any]]:
    """The live overrides this endpoint has fields for."""
    from contracts.schemas import load_schema

    properties = load_schema(INPUT_SCHEMAS[endpoint])["properties"]
    return {name: value for name, value in CHEAPEST.items() if name in properties}


def _hypothesis(ctx: SuiteContext, strategy: st.SearchStrategy[Any], test: Callable) -> None:
    Settings(ctx.settings)(given(strategy)(test))()


# -- cases -------------------------------------------------------------------------------------


def covering(endpoint: str) -> Callable[[SuiteContext], str | None]:
    """Every enum value once: submitted together (concurrent requests), each video checked."""

    def run(ctx: SuiteContext) -> str | None:
        inputs = covering_inputs(endpoint)
        chosen = _affordable(ctx, endpoint, inputs)
        if not chosen:
            raise Skip("live budget affords none of the covering inputs")
        handles = [flows.submit(ctx.target, ctx.http, endpoint, a) for a in chosen]
        flows.result(ctx.http, handles[0])  # asked early: a 4xx unless already COMPLETED
        for handle in handles:
            _generate(ctx, handle)
        return f"{len(chosen)}/{len(inputs)} inputs" if len(chosen) < len(inputs) else None

    return run


def generated(endpoint: str) -> Callable[[SuiteContext], str | None]:
    """Hypothesis-generated valid inputs: each generates a checked video."""

    def run(ctx: SuiteContext) -> str | None:
        overrides = _cheapest(endpoint) if ctx.target.live else None
        skipped = 0

        def example(arguments: dict[str, Any]) -> None:
            nonlocal skipped
            try:
                handle = flows.submit(ctx.target, ctx.http, endpoint, arguments)
            except BudgetExhausted:
                skipped += 1
                return
            _generate(ctx, handle)

        if not ctx.target.budget.can_spend(1):
            raise Skip("live budget exhausted")
        _hypothesis(ctx, valid_inputs(endpoint, overrides=overrides), example)
        return f"{skipped} example(s) skipped for budget" if skipped else None

    return run


def invalid(endpoint: str) -> Callable[[SuiteContext], str | None]:
    """Every rule broken alone, then generated ones: sync run answers the 422 with the broken
    field's loc at once; the queue accepts the request, it completes, and its result is the
    same 422 (fal validates when the request runs; nothing is billed either way)."""

    def sync_run(ctx: SuiteContext, case: InvalidCase) -> None:
        check_validation_error(
            ctx.http.post(ctx.target.run_endpoint_url(endpoint), json=case.body), case
        )

    def queued(ctx: SuiteContext, case: InvalidCase) -> None:
        handle = flows.submit(ctx.target, ctx.http, endpoint, case.body)
        flows.wait_completed(ctx.target, ctx.http, handle, with_logs=False)
        check_validation_error(flows.result(ctx.http, handle), case)

    def run(ctx: SuiteContext) -> str | None:
        rules = every_rule(endpoint)
        for case in rules:
            sync_run(ctx, case)
            queued(ctx, case)
        _hypothesis(ctx, invalid_inputs(endpoint), lambda case: sync_run(ctx, case))
        return f"{len(rules)} rules on both paths, generated ones on sync run"

    return run


def request_errors(ctx: SuiteContext) -> str | None:
    """Refusals that never reach a model: no key, unknown request, a body that is not JSON."""
    target, http = ctx.target, ctx.http
    anonymous = httpx.post(target.submit_url(ctx.primary), json=ctx.arguments("x p"), timeout=60)
    check_request_error(anonymous, 401, "errors.no_key")
    missing = "00000000-0000-0000-0000-000000000000"
    unknown_status = http.get(target.request_url(missing, "/status"))
    check_exact(unknown_status, 404, {"status": "NOT_FOUND"}, "errors.unknown_request")
    unknown_result = http.get(target.request_url(missing))
    check_exact(unknown_result, 404, {"detail": "Request not found"}, "errors.unknown_result")
    broken = http.post(
        target.submit_url(ctx.primary),
        content=b'{"prompt": ',
        headers={"content-type": "application/json"},
    )
    expect(
        broken.status_code == 422,
        "errors.not_json",
        "a body that is not JSON",
        expected=422,
        observed=broken.status_code,
    )
    detail = json_body("errors.not_json", broken)["detail"]
    observed = [(d.get("loc", [None])[0], d.get("type")) for d in detail]
    expect(
        observed == [("body", "json_invalid")],
        "errors.not_json",
        "one json_invalid entry",
        expected=[["body", "json_invalid"]],
        observed=observed,
    )
    cancel = http.put(target.request_url(missing, "/cancel"))
    expect(
        cancel.status_code == 404,
        "errors.cancel_unknown",
        "cancel of an unknown request",
        expected={"status": 404, "body": {"status": "NOT_FOUND"}},
        observed={"status": cancel.status_code, "body": cancel.text[:200]},
    )
    return None


def status_stream(ctx: SuiteContext) -> str | None:
    """The SSE status stream of one request, read to its end, then the result."""
    handle = flows.submit(ctx.target, ctx.http, ctx.primary, ctx.arguments("contract stream"))
    flows.stream(ctx.http, handle)
    flows.status(ctx.http, handle)  # polled after the stream: agrees with what it said
    check_result(flows.result(ctx.http, handle), handle.request_id)
    return None


def cancel_semantics(ctx: SuiteContext) -> str | None:
    """Cancel a fresh request, then a finished one; answers and later states must agree."""
    fresh = flows.submit(ctx.target, ctx.http, ctx.primary, ctx.arguments("contract cancel"))
    first = flows.cancel(ctx.http, fresh)
    flows.wait_completed(ctx.target, ctx.http, fresh)
    flows.result(ctx.http, fresh)
    flows.cancel(ctx.http, fresh)  # a second cancel of a finished request
    late_input = ctx.arguments("contract cancel late")
    finished = flows.submit(ctx.target, ctx.http, ctx.primary, late_input)
    flows.wait_completed(ctx.target, ctx.http, finished)
    late = flows.cancel(ctx.http, finished)
    flows.finished_output(ctx.http, finished)
    return f"fresh: {first}, finished: {late}"


def sync_run(endpoint: str) -> Callable[[SuiteContext], str | None]:
    """Sync run answers the output itself, with the request id header."""

    def run(ctx: SuiteContext) -> str | None:
        arguments = minimal_input(endpoint, prompt="contract sync run")
        ctx.target.charge(endpoint, arguments)
        response = ctx.http.post(ctx.target.run_endpoint_url(endpoint), json=arguments)
        request_id = response.headers.get("x-fal-request-id")
        expect(
            bool(request_id),
            "run.request_id_header",
            "sync run must name its request",
            expected="x-fal-request-id",
            observed=dict(response.headers),
        )
        output = check_result(response, request_id)
        check_output(ctx, endpoint, output, arguments)
        return None

    return run


def stateful(ctx: SuiteContext) -> str | None:
    from contracts.server.stateful import run_machine

    if not ctx.target.budget.can_spend(1):
        raise Skip("live budget exhausted")
    return run_machine(ctx.target, ctx.settings, endpoints=ctx.endpoints)


WATCHED_STATES = {
    "IN_QUEUE": "202 while queued, queue_position, positions that never grow",
    "IN_PROGRESS": "202 while running, logs that only grow",
}


def lifecycle_states(ctx: SuiteContext) -> str | None:
    """Did the target let the lifecycle rules be checked at all? A server that completes at
    once passes every rule about queued and running requests without showing one, so the
    states never observed are reported as not exercised (a failure with ``--strict``)."""
    handle = flows.submit(ctx.target, ctx.http, ctx.primary, ctx.arguments("contract lifecycle"))
    flows.wait_completed(ctx.target, ctx.http, handle)
    observed = {entry.split("@")[0] for entry in handle.life.history}
    missing = [state for state in WATCHED_STATES if state not in observed]
    if missing:
        unchecked = "; ".join(f"{state} ({WATCHED_STATES[state]})" for state in missing)
        message = f"not exercised: never observed {unchecked}"
        if ctx.strict:
            raise ContractViolation(
                "lifecycle.not_exercised", message, observed=handle.life.history
            )
        raise Skip(message)
    return f"observed {', '.join(s for s in WATCHED_STATES)}"


def spec_drift(ctx: SuiteContext) -> str | None:
    from contracts.live.drift import OpenApiUnavailable, drift_report, fetch_openapi

    try:
        report = drift_report(lambda endpoint_id: fetch_openapi(endpoint_id, ctx.target.timeout))
    except OpenApiUnavailable as exc:
        raise ContractViolation("spec_drift", str(exc)) from None
    if report:
        raise ContractViolation(
            "spec_drift",
            "fal's OpenAPI differs from contracts/schemas",
            expected="no difference",
            observed="\n" + report,
        )
    return None


CASES: tuple[Case, ...] = (
    Case("request_errors", request_errors),
    *(Case(f"invalid_inputs[{s}]", invalid(e), endpoint=e) for s, e in ENDPOINTS.items()),
    *(Case(f"enum_coverage[{s}]", covering(e), endpoint=e) for s, e in ENDPOINTS.items()),
    *(Case(f"generated_inputs[{s}]", generated(e), endpoint=e) for s, e in ENDPOINTS.items()),
    *(Case(f"sync_run[{s}]", sync_run(e), endpoint=e) for s, e in ENDPOINTS.items()),
    Case("lifecycle_states", lifecycle_states),
    Case("status_stream", status_stream),
    Case("cancel_semantics", cancel_semantics),
    Case("stateful", stateful),
    Case("spec_drift", spec_drift, live_only=True),
)
CASE_NAMES = tuple(case.name for case in CASES)


def _failure_text(exc: BaseException) -> str:
    text = exc.render() if isinstance(exc, ContractViolation) else f"{type(exc).__name__}: {exc}"
    notes = getattr(exc, "__notes__", None) or []
    if not isinstance(exc, AssertionError):
        text += "\n" + "".join(traceback.format_exception(exc, limit=-3)).rstrip()
    return "\n".join([text, *notes])


def _transport_error(exc: BaseException) -> httpx.TransportError | None:
    """The network failure behind ``exc``, also inside Hypothesis' exception groups."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, httpx.TransportError):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def run_case(case: Case, ctx: SuiteContext) -> CaseResult:
    """Run one case. On live fal a network failure stops the whole run with ``Unreachable``
    (one line naming the host and what to check): every later case would fail the same way."""
    start = time.monotonic()
    try:
        if case.live_only and not ctx.target.live:
            raise Skip("live only (compares fal's published OpenAPI with contracts/schemas)")
        note = case.run(ctx)
        result = CaseResult(case.name, "passed", note or "")
    except (Skip, BudgetExhausted) as exc:
        result = CaseResult(case.name, "skipped", str(exc))
    except Exception as exc:
        network = _transport_error(exc) if ctx.target.live else None
        if network is not None:
            raise Unreachable(describe(network)) from None
        result = CaseResult(case.name, "failed", _failure_text(exc))
    result.seconds = time.monotonic() - start
    return result


def resolve_endpoints(names: Iterable[str] | None) -> tuple[str, ...]:
    """Endpoint ids from ids or short names (``t2v``, ``flash-reframe``, ...); all if none."""
    wanted = list(names or ())
    if not wanted:
        return ENDPOINT_IDS
    unknown = [n for n in wanted if n not in ENDPOINTS and n not in ENDPOINT_IDS]
    if unknown:
        known = [f"{short} ({e})" for short, e in ENDPOINTS.items()]
        raise ValueError(f"unknown endpoint(s) {unknown}; known: {known}")
    return tuple(dict.fromkeys(ENDPOINTS.get(n, n) for n in wanted))


def select(names: Iterable[str] | None, endpoints: Iterable[str] | None = None) -> list[Case]:
    """The cases named (all if none), without the per-endpoint cases of other endpoints."""
    chosen_endpoints = set(resolve_endpoints(endpoints))
    cases = [c for c in CASES if c.endpoint is None or c.endpoint in chosen_endpoints]
    if not names:
        return cases
    wanted = list(names)
    chosen = [c for c in cases if any(c.name == n or c.name.startswith(n + "[") for n in wanted)]
    unknown = [
        n for n in wanted if not any(c.name == n or c.name.startswith(n + "[") for c in CASES)
    ]
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; known: {list(CASE_NAMES)}")
    return chosen


def run_suite(
    target: Target,
    *,
    profile: str = "ci",
    only: Iterable[str] | None = None,
    workdir: Path | None = None,
    report: Callable[[CaseResult], None] | None = None,
    strict: bool = False,
    endpoints: Iterable[str] | None = None,
) -> list[CaseResult]:
    """Run the chosen cases (all by default) against ``target``; ``report`` sees each result.

    ``endpoints`` (ids or short names) narrows the run to those endpoints' cases and points the
    protocol cases at them."""
    results = []
    chosen = resolve_endpoints(endpoints)
    with target.http() as http:
        ctx = SuiteContext(target, profile_settings(profile), http, workdir, strict, chosen)
        for case in select(only, chosen):
            result = run_case(case, ctx)
            if report is not None:
                report(result)
            results.append(result)
    return results
