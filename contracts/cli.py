"""``ray2-mock check`` and ``ray2-mock record``: the contract suite from the command line.

``check`` runs the server contract suite against a target, or, given ``--client`` /
``--client-cmd``, the client checks for those clients. ``record`` saves fal's real answers
(live only). Parsers are added to ``mockserver.cli``; heavy imports wait until a command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

COMMANDS = ("check", "record", "fetch-spec")


def add_parsers(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="run the contract suite against the mock, a URL or live fal (or check a client)",
        description="Server contract suite by default; with --client/--client-cmd, the client "
        "checks for those clients (against the in-process mock unless --target says otherwise).",
    )
    _target_options(check)
    check.add_argument(
        "--profile",
        choices=["ci", "dev", "live"],
        default=None,
        help="Hypothesis profile (default: ci; live for --target live)",
    )
    check.add_argument(
        "--case", action="append", default=[], help="run only this case (repeatable)"
    )
    check.add_argument(
        "--endpoint",
        action="append",
        default=[],
        help="judge only this endpoint, by id or short name (t2v, flash-reframe, ...; "
        "repeatable; default: the whole family)",
    )
    check.add_argument(
        "--client",
        action="append",
        default=[],
        help="client to check: httpx, fal-sync, fal-async, js, js-streaming, python:mod:func",
    )
    check.add_argument(
        "--client-cmd",
        action="append",
        default=[],
        help='a command reading the call as JSON on stdin, printing {"output": ...}',
    )
    check.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="a URL target's control-plane token, for reading its journal and injecting faults "
        "(default: RAY2_MOCK_ADMIN_TOKEN); needed when it runs beyond loopback",
    )
    check.add_argument("--list", action="store_true", help="list the cases and client checks")
    check.add_argument(
        "--strict",
        action="store_true",
        help="a rule the target gave no chance to check (a server that completes at once shows "
        "no queued or running state) fails instead of being reported as not exercised",
    )
    check.add_argument(
        "--require-live",
        action="store_true",
        help="fail (exit 2) instead of skipping when the live target cannot run (no FAL_KEY): "
        "for scheduled jobs that exist to hit live fal",
    )
    record = sub.add_parser(
        "record", help="save fal's real answers (redacted) and report spec drift (live only)"
    )
    record.add_argument(
        "--live-budget", type=int, default=1, help="cost units to spend (default 1)"
    )
    record.add_argument("--out", type=Path, default=Path("fixtures/recorded"))
    _timeout_option(record)
    _add_fetch_spec(sub)


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="mock", help="mock (default), live or an http(s) URL")
    parser.add_argument(
        "--run-base", default=None, help="sync-run base of a URL target (default <URL>/run)"
    )
    parser.add_argument(
        "--live-budget",
        type=int,
        default=None,
        help="cost units live fal may spend (540p/5s = 1; 720p 2x, 1080p 4x, 9s 2x; default 2)",
    )
    _timeout_option(parser)


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait this long for each answer (default: 600 on live fal, long enough for a "
        "sync run; 60 otherwise)",
    )


def run(args: argparse.Namespace) -> int:
    return {"check": _check, "record": _record, "fetch-spec": _fetch_spec}[args.command](args)


def _add_fetch_spec(sub: Any) -> None:
    fetch = sub.add_parser(
        "fetch-spec",
        help="save fal's published OpenAPI document of an endpoint (for serve --endpoint-spec)",
        description="Fetches https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=ENDPOINT "
        "(honouring HTTPS_PROXY and the CA variables, so `ray2-mock env` rehearses it offline) "
        "and saves it as OUT/<endpoint id, slashes as __>.json.",
    )
    fetch.add_argument("endpoint", help="the endpoint id, e.g. fal-ai/flux/dev")
    fetch.add_argument("--out", type=Path, default=Path("endpoint-specs"), help="folder to save in")
    _timeout_option(fetch)


def spec_file_name(endpoint_id: str) -> str:
    return endpoint_id.replace("/", "__") + ".json"


def _fetch_spec(args: argparse.Namespace) -> int:
    import json

    import httpx

    from contracts.live.drift import OpenApiUnavailable, fetch_openapi
    from contracts.schemas.specs import SpecError, parse_spec
    from contracts.server.netfail import describe

    try:
        document = fetch_openapi(args.endpoint, timeout=args.timeout)
        spec = parse_spec(document, f"fal.ai's OpenAPI of {args.endpoint}")
    except httpx.TransportError as exc:
        return _fail("fetch-spec", describe(exc))
    except (OpenApiUnavailable, SpecError) as exc:
        return _fail("fetch-spec", str(exc))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / spec_file_name(spec.endpoint_id)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"saved {path} (serve --endpoint-spec {path})")
    return 0


def _print(result: Any) -> None:
    print(result.line(), flush=True)


def _fail(command: str, line: str) -> int:
    """A run that could not happen: one line on stderr, exit 2 (1 is for contract failures)."""
    print(f"ray2-mock {command}: {line}", file=sys.stderr, flush=True)
    return 2


def _spent(target: Any) -> None:
    print(f"live budget: spent {target.budget.spent} of {target.budget.limit} units", flush=True)


def _check(args: argparse.Namespace) -> int:
    from contracts.client.adapters import CommandClient, load_client
    from contracts.client.checks import CLIENT_CHECK_NAMES, run_client_checks
    from contracts.server.netfail import Unreachable, check_reachable
    from contracts.server.suite import CASE_NAMES, ENDPOINTS, resolve_endpoints, run_suite
    from contracts.server.targets import DEFAULT_LIVE_BUDGET, TargetUnavailable, open_target

    if args.list:
        print("cases:", *CASE_NAMES, sep="\n  ")
        print("endpoints:", *(f"{s:14} {e}" for s, e in ENDPOINTS.items()), sep="\n  ")
        print("client checks:", *CLIENT_CHECK_NAMES, sep="\n  ")
        return 0
    try:
        endpoints = resolve_endpoints(args.endpoint)
    except ValueError as exc:
        return _fail("check", str(exc))
    clients = [load_client(spec) for spec in args.client]
    clients += [CommandClient(command) for command in args.client_cmd]
    budget = DEFAULT_LIVE_BUDGET if args.live_budget is None else args.live_budget
    profile = args.profile or ("live" if args.target == "live" else "ci")
    start = time.monotonic()
    results = []
    try:
        with open_target(
            args.target,
            run_base=args.run_base,
            live_budget=budget,
            timeout=args.timeout,
            admin_token=args.admin_token,
        ) as target:
            print(f"target: {target.name}  profile: {profile}", *target.notes, flush=True)
            try:
                if target.live:
                    check_reachable(target)
                if clients:
                    for client in clients:
                        only = args.case or None
                        results += run_client_checks(client, target, only=only, report=_print)
                else:
                    results = run_suite(
                        target,
                        profile=profile,
                        only=args.case,
                        report=_print,
                        strict=args.strict,
                        endpoints=endpoints,
                    )
            except Unreachable as exc:
                if target.live:
                    _spent(target)
                return _fail("check", str(exc))
            if target.live:
                _spent(target)
    except TargetUnavailable as exc:
        if args.require_live:
            return _fail("check", f"{exc} (--require-live: a skipped live run is a failure)")
        print(f"SKIPPED  {exc}")
        return 0
    counts = {
        kind: sum(r.outcome == kind for r in results) for kind in ("passed", "failed", "skipped")
    }
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"{summary} in {time.monotonic() - start:.1f} s")
    return 1 if counts["failed"] else 0


def _record(args: argparse.Namespace) -> int:
    import httpx

    from contracts.live.drift import OpenApiUnavailable, drift_report, fetch_openapi
    from contracts.live.record import RecordingInterrupted, record
    from contracts.server.netfail import Unreachable, check_reachable, describe
    from contracts.server.targets import TargetUnavailable, open_target

    try:
        with open_target("live", live_budget=args.live_budget, timeout=args.timeout) as target:
            try:
                check_reachable(target)
                written, problems = record(target, args.out)
            except Unreachable as exc:
                for path in getattr(exc, "written", []):
                    print(f"wrote {path}")
                _spent(target)
                if isinstance(exc, RecordingInterrupted):
                    return _fail("record", f"{exc} (the files above are complete)")
                return _fail("record", f"{exc}; nothing recorded")
    except TargetUnavailable as exc:
        print(f"nothing recorded: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    _spent(target)
    for problem in problems:
        print(f"SCHEMA   {problem}")
    try:
        drift = drift_report(lambda endpoint_id: fetch_openapi(endpoint_id, args.timeout))
    except httpx.TransportError as exc:
        return _fail("record", f"spec drift not checked: {describe(exc)}")
    except OpenApiUnavailable as exc:
        return _fail("record", f"spec drift not checked: {exc}")
    if drift:
        print("SPEC DRIFT (fal's OpenAPI vs contracts/schemas):\n" + drift)
    return 1 if problems or drift else 0
