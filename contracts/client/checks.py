"""Client checks: drive a client through inputs and injected faults, judge its traffic.

Each check asks the adapter for one call, then reads what the server actually received
(``target.traffic``) and compares it with what a correct fal client sends. A failure is
reported as the broken rules plus a diff of the expected and the observed traffic, with
request ids, repeated polls and credentials normalised so only real differences show.

Checks: a valid input is sent once, validated, to the right endpoint with ``Key`` auth,
polled politely until COMPLETED and not after, and its result is what the client returns;
a 422 (from the result of a request the queue accepted) is surfaced, with its detail, and
not retried; a 429 and an ingress 503 at submit
are retried after a pause; a dropped status connection (or a cut status stream) is survived.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.client.adapters import ClientAdapter, ClientCall, ClientOutcome
from contracts.generation.strategies import T2V, every_rule
from contracts.server.checks import validate_input
from contracts.server.suite import CaseResult
from contracts.server.targets import Target
from contracts.server.traffic import Exchange, Fault, mask_secret

MIN_POLL_GAP = 0.05
"""Seconds between two status polls of one request; fal's Python client waits 0.1 s, JS 0.5 s."""
MIN_RETRY_GAP = 0.04
"""Seconds before a retry; fal's Python client backs off 0.1 s x jitter 0.5-1.5, JS ~1 s."""
DEFAULT_ARGUMENTS = {"prompt": "client contract check"}
API_ROUTES = ("submit", "run", "status", "stream", "result", "cancel")


class ClientCheckFailed(AssertionError):
    pass


@dataclass
class Observation:
    """One call of the client: what it returned and the traffic the server saw."""

    call: ClientCall
    outcome: ClientOutcome
    exchanges: list[Exchange]
    started: float
    problems: list[str] = field(default_factory=list)

    def of(self, *routes: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.route in routes]

    def fail(self, problem: str) -> None:
        self.problems.append(problem)


@dataclass
class ClientContext:
    adapter: ClientAdapter
    target: Target
    arguments: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARGUMENTS))
    used_stream: bool = False


# -- observing ---------------------------------------------------------------------------------


def observe(ctx: ClientContext, call: ClientCall, *faults: Fault) -> Observation:
    traffic = ctx.target.traffic
    traffic.clear()
    if ctx.target.faults is not None:
        ctx.target.faults.clear()  # a fault that never fired must not leak into this call
    if faults:
        ctx.target.faults.inject(*faults)
    started = time.time()
    outcome = ctx.adapter.call(call)
    time.sleep(0.05)  # a request the client abandoned may still be finishing server-side
    exchanges = [e for e in traffic.exchanges() if e.route in API_ROUTES]
    return Observation(call, outcome, exchanges, started)


def _call(ctx: ClientContext, arguments: Any, endpoint: str = T2V) -> ClientCall:
    target = ctx.target
    return ClientCall(endpoint, arguments, target.queue_url, target.run_url, target.key)


# -- rules -------------------------------------------------------------------------------------


def expect_auth(obs: Observation) -> None:
    wanted = mask_secret(f"Key {obs.call.key}")
    for exchange in obs.exchanges:
        sent = exchange.request_headers.get("authorization")
        if sent != wanted:
            obs.fail(f"{exchange.line()}: Authorization {sent!r}, expected {wanted!r}")
            return


def expect_one_valid_submit(obs: Observation, *, attempts: int = 1) -> None:
    route, other = ("run", "submit") if obs.call.mode == "run" else ("submit", "run")
    submits = obs.of(route)
    if len(submits) != attempts:
        obs.fail(f"{len(submits)} {route} request(s), expected {attempts}")
    if obs.of(other):
        obs.fail(f"used the {other} API for a {obs.call.mode} call")
    for exchange in submits:
        if exchange.method != "POST" or exchange.endpoint_id != obs.call.endpoint:
            obs.fail(f"{exchange.line()}: expected POST to {obs.call.endpoint}")
        if exchange.fault and exchange.request_body is None:
            continue  # answered by an injected fault before the body was read (journal)
        problems = validate_input(obs.call.endpoint, exchange.request_body)
        if problems:
            obs.fail(f"submitted body breaks the input schema: {problems}")
        elif exchange.request_body != obs.call.arguments:
            obs.fail(f"submitted {exchange.request_body!r}, was asked {obs.call.arguments!r}")


def expect_polite_polling(obs: Observation) -> None:
    polls = obs.of("status")
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:], strict=False)]
    too_fast = [g for g in gaps if g < MIN_POLL_GAP]
    if too_fast:
        obs.fail(
            f"{len(too_fast)} of {len(gaps)} status polls came less than {MIN_POLL_GAP * 1000:.0f}"
            f" ms after the previous one (shortest {min(too_fast) * 1000:.1f} ms)"
        )


def expect_stop_after_completed(obs: Observation) -> None:
    done_at = next(
        (
            i
            for i, e in enumerate(obs.exchanges)
            if e.route in ("status", "stream") and e.status == 200 and _completed(e)
        ),
        None,
    )
    if obs.call.mode == "run":
        return
    if done_at is None:
        obs.fail("the client never saw a COMPLETED status")
        return
    late = [e for e in obs.exchanges[done_at + 1 :] if e.route in ("status", "stream")]
    if late:
        obs.fail(f"{len(late)} status request(s) after COMPLETED")
    early = [e for e in obs.exchanges[:done_at] if e.route == "result"]
    if early:
        obs.fail("asked for the result before COMPLETED")


def _completed(exchange: Exchange) -> bool:
    body = exchange.response_body
    if isinstance(body, dict):
        return body.get("status") == "COMPLETED"
    return isinstance(body, str) and '"status": "COMPLETED"' in body.replace('":"', '": "')


def expect_result_returned(obs: Observation) -> None:
    served = [e for e in obs.of("result", "run") if e.status == 200]
    if not obs.outcome.ok:
        obs.fail(f"the client failed: {obs.outcome.summary()}")
        return
    if len(served) != 1:
        obs.fail(f"{len(served)} successful result request(s), expected 1")
    if served and obs.outcome.output != served[-1].response_body:
        obs.fail(
            f"the client returned something else than the server's result: "
            f"{json.dumps(obs.outcome.output, default=str)[:200]}"
        )


def expect_no_cancel(obs: Observation) -> None:
    if obs.of("cancel"):
        obs.fail("cancelled a request nobody asked to cancel")


def expect_retry_after_pause(obs: Observation, route: str) -> None:
    attempts = obs.of(route)
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:], strict=False)]
    if gaps and min(gaps) < MIN_RETRY_GAP:
        obs.fail(f"retried {route} after {min(gaps) * 1000:.1f} ms, without backing off")


HAPPY_RULES: tuple[Callable[[Observation], None], ...] = (
    expect_auth,
    expect_one_valid_submit,
    expect_polite_polling,
    expect_stop_after_completed,
    expect_result_returned,
    expect_no_cancel,
)


# -- reporting ---------------------------------------------------------------------------------

ID_PATTERN = re.compile(r"/requests/[^/]+")


def _shape(exchange: Exchange) -> str:
    path = ID_PATTERN.sub("/requests/{id}", exchange.path)
    auth = exchange.request_headers.get("authorization", "(no auth)")
    outcome = "dropped" if exchange.dropped else str(exchange.status)
    return f"{exchange.method} {path} [{auth}] -> {outcome}"


def _runs(obs: Observation) -> list[list[Exchange]]:
    """Consecutive status polls of the same shape grouped (a client polls many times)."""
    runs: list[list[Exchange]] = []
    for exchange in obs.exchanges:
        if runs and _shape(runs[-1][-1]) == _shape(exchange) and exchange.route == "status":
            runs[-1].append(exchange)
        else:
            runs.append([exchange])
    return runs


def _min_gap_ms(run: list[Exchange]) -> float:
    return min((b.at - a.at) * 1000 for a, b in zip(run, run[1:], strict=False))


def _observed_lines(obs: Observation) -> list[str]:
    """The traffic in the expected lines' vocabulary, so the diff shows only real changes."""
    lines = []
    for run in _runs(obs):
        line = _shape(run[0])
        if len(run) > 1:
            gap = _min_gap_ms(run)
            spacing = (
                f">= {MIN_POLL_GAP * 1000:.0f} ms"
                if gap >= MIN_POLL_GAP * 1000
                else (f"{gap:.0f} ms")
            )
            line += f"  (xN, {spacing} apart)"
        lines.append(line)
    return lines


def expected_traffic(
    call: ClientCall, *, before: tuple[str, ...] = (), after_submit: tuple[str, ...] = ()
) -> list[str]:
    """What a correct client's traffic looks like for a successful call (with the injected
    fault's lines ``before`` the submit or right ``after_submit``)."""
    auth = mask_secret(f"Key {call.key}")
    lines = [*before]
    if call.mode == "run":
        return [*lines, f"POST /run/{call.endpoint} [{auth}] -> 200"]
    lines.append(f"POST /{call.endpoint} [{auth}] -> 200")
    lines.extend(after_submit)
    app = "/".join(call.endpoint.split("/")[:2])
    lines.append(f"GET /{app}/requests/{{id}}/status [{auth}] -> 202  (xN, >= 50 ms apart)")
    lines.append(f"GET /{app}/requests/{{id}}/status [{auth}] -> 200")
    lines.append(f"GET /{app}/requests/{{id}} [{auth}] -> 200")
    return lines


def _timeline(obs: Observation) -> list[str]:
    """Each exchange with its arrival time; runs of the same call shown once, with gaps."""
    lines = []
    for run in _runs(obs):
        line = f"  +{run[0].at - obs.started:7.3f}s  {run[0].line()}"
        if len(run) > 1:
            line += f"  (x{len(run)}, {_min_gap_ms(run):.0f} ms apart or more)"
        lines.append(line)
    return lines


def report(obs: Observation, expected: list[str]) -> str:
    observed = _observed_lines(obs)
    timeline = _timeline(obs)
    diff = difflib.unified_diff(
        expected, observed, "expected traffic", "observed traffic", lineterm=""
    )
    return "\n".join(
        [
            *(f"- {p}" for p in obs.problems),
            f"client outcome: {obs.outcome.summary()}",
            *diff,
            "timeline:",
            *timeline[:60],
        ]
    )


def _judge(obs: Observation, expected: list[str]) -> None:
    if obs.problems:
        raise ClientCheckFailed(report(obs, expected))


# -- checks ------------------------------------------------------------------------------------


def valid_call(ctx: ClientContext) -> str | None:
    obs = observe(ctx, _call(ctx, ctx.arguments))
    ctx.used_stream = bool(obs.of("stream"))
    for rule in HAPPY_RULES:
        rule(obs)
    _judge(obs, expected_traffic(obs.call))
    return f"{len(obs.of('status', 'stream'))} status request(s) in {obs.outcome.seconds:.2f} s"


def surfaces_422(ctx: ClientContext) -> str | None:
    """Invalid input: fal's queue accepts it, the request completes, and the 422 comes from
    the result (sync run answers it at once). The client must surface it, once, and stop."""
    case = next(c for c in every_rule(T2V) if c.rule.startswith("aspect_ratio"))
    obs = observe(ctx, _call(ctx, case.body))
    expect_auth(obs)
    if obs.outcome.ok:
        obs.fail(f"the client did not surface the 422: {obs.outcome.summary()}")
    else:
        if obs.outcome.error_status not in (422, None):
            obs.fail(f"the client's error says status {obs.outcome.error_status}, not 422")
        detail = json.dumps(obs.outcome.error_detail, default=str)
        if obs.outcome.error_detail is None or case.loc[-1] not in detail:
            obs.fail(f"the client's error carries no detail naming {list(case.loc)}")
    submits = obs.of("submit", "run")
    if len(submits) != 1:
        obs.fail(f"{len(submits)} submit request(s) for a 422: a validation error is final")
    results = obs.of("result")
    if obs.call.mode != "run" and len(results) != 1:
        obs.fail(f"{len(results)} result request(s): the 422 is in the result, and it is final")
    expected = expected_traffic(obs.call)
    expected[-1] = expected[-1].replace("-> 200", "-> 422")
    _judge(obs, expected)
    return None


def _retries_fault(fault: Fault) -> Callable[[ClientContext], str | None]:
    def check(ctx: ClientContext) -> str | None:
        obs = observe(ctx, _call(ctx, ctx.arguments), fault)
        expect_auth(obs)
        expect_one_valid_submit(obs, attempts=2)
        expect_retry_after_pause(obs, "submit")
        expect_stop_after_completed(obs)
        expect_result_returned(obs)
        line = f"POST /{T2V} [{mask_secret('Key ' + obs.call.key)}] -> {fault.status}"
        _judge(obs, expected_traffic(obs.call, before=(line,)))
        gap = [b.at - a.at for a, b in zip(obs.of("submit"), obs.of("submit")[1:], strict=False)]
        return f"retried after {gap[0]:.2f} s" if gap else None

    return check


def survives_drop(ctx: ClientContext) -> str | None:
    streaming = ctx.used_stream or getattr(ctx.adapter, "streaming", False)
    fault = Fault.cut_stream() if streaming else Fault.dropped("status", after=0)
    obs = observe(ctx, _call(ctx, ctx.arguments), fault)
    expect_auth(obs)
    expect_one_valid_submit(obs)
    expect_result_returned(obs)
    if not any(e.dropped for e in obs.exchanges):
        obs.fail("the fault never fired (the client made no second status request)")
    app = "/".join(T2V.split("/")[:2])
    auth = mask_secret(f"Key {obs.call.key}")
    route = "status/stream" if fault.route == "stream" else "status"
    dropped = f"GET /{app}/requests/{{id}}/{route} [{auth}] -> dropped"
    _judge(obs, expected_traffic(obs.call, after_submit=(dropped,)))
    return fault.name


def sync_run(ctx: ClientContext) -> str | None:
    call = ClientCall(
        T2V, ctx.arguments, ctx.target.queue_url, ctx.target.run_url, ctx.target.key, "run"
    )
    obs = observe(ctx, call)
    for rule in (expect_auth, expect_one_valid_submit, expect_result_returned, expect_no_cancel):
        rule(obs)
    _judge(obs, expected_traffic(call))
    return None


CLIENT_CHECKS: tuple[tuple[str, Callable[[ClientContext], str | None], bool], ...] = (
    # (name, check, needs fault injection)
    ("valid_call", valid_call, False),
    ("surfaces_422", surfaces_422, False),
    ("backs_off_on_429", _retries_fault(Fault.rate_limited("submit")), True),
    ("backs_off_on_503", _retries_fault(Fault.ingress_unavailable("submit")), True),
    ("survives_dropped_connection", survives_drop, True),
    ("sync_run", sync_run, False),
)
CLIENT_CHECK_NAMES = tuple(name for name, _, _ in CLIENT_CHECKS)


def run_client_checks(
    adapter: ClientAdapter,
    target: Target,
    *,
    only: list[str] | None = None,
    report: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every client check (or ``only`` those) for ``adapter`` against ``target``."""
    results = []
    ctx = ClientContext(adapter, target)
    for name, check, needs_faults in CLIENT_CHECKS:
        if only and name not in only:
            continue
        start = time.monotonic()
        reason = adapter.unavailable()
        if reason is None and target.traffic is None:
            reason = "the target's traffic cannot be read (use the mock or a ray2-mock URL)"
        if reason is None and needs_faults and target.faults is None:
            reason = "the target cannot inject faults (use the in-process mock)"
        if reason is not None:
            result = CaseResult(f"{adapter.name}: {name}", "skipped", reason)
        else:
            try:
                note = check(ctx)
                result = CaseResult(f"{adapter.name}: {name}", "passed", note or "")
            except ClientCheckFailed as exc:
                result = CaseResult(f"{adapter.name}: {name}", "failed", str(exc))
        result.seconds = time.monotonic() - start
        if report is not None:
            report(result)
        results.append(result)
    return results
