"""Queue path throughput and latency: the emulator beside its ceiling and beside Prism.

Servers, each a real process on loopback, measured in the same run:
- ceiling: a bare Starlette app on the same uvicorn/uvloop/httptools stack (bench/ceiling.py);
- emulator (memory store) and emulator (SQLite store): `ray2-mock serve --timing instant
  --log-level warning` and otherwise default settings (journal on), so every submit runs the
  whole lifecycle (render is a cache hit);
- Prism: `prism mock` of a document of just the operations under test (bench/prism_spec.py),
  what a user mocking fal with Prism would write.
Operations: submit, status and result of a completed request, and a 422 from the sync run with
an invalid body (queue submits accept invalid input and fail at the result, as fal does).

Fair on a small machine: every server runs on one core and the load generator (wrk, else
autocannon: bench/loadgen.py) on another (bench/pinning.py). Rounds are interleaved: each
round measures every operation on every server before the next round starts, so drifting
machine load hits all of them alike; the median round is kept. Targets are checked at 32
connections (issue 27, "Up"): a share of the ceiling's req/s per operation, submit also a
multiple of Prism's, and p99 at most twice the ceiling's. Emulator ÷ Prism is reported beside
them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, pinning, prism_spec, servers
from bench.loadgen import Load

CONNECTIONS = tuple(int(c) for c in os.environ.get("BENCH_CONNECTIONS", "32").split(","))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
OPS = os.environ.get("BENCH_OPS")  # e.g. "submit,status" to run only those
WARMUP_SECONDS = 1
APP = "/fal-ai/luma-dream-machine"
STORES = ("memory", "sqlite")
TARGET_CONNECTIONS = 32
CEILING_SHARE = {"submit": 0.5, "status": 0.8, "result": 0.7, "run 422": 0.7}  # least req/s share
PRISM_MULTIPLE = {"submit": 1.5}  # least req/s, as a multiple of Prism's
P99_CEILING_MULTIPLE = 2.0  # most p99, as a multiple of the ceiling's

# The request of each operation; `{id}` is a completed request of the server under test.
OPERATIONS = {
    "submit": Load("POST", f"{APP}/ray-2", {"prompt": "bench"}),
    "status": Load("GET", f"{APP}/requests/{{id}}/status"),
    "result": Load("GET", f"{APP}/requests/{{id}}"),
    "run 422": Load("POST", f"/run{APP}/ray-2", {"prompt": 7}, expect=422),
}


def _load(op_name: str, server: servers.Server) -> Load:
    """The operation's request for this server. The emulator gets a request completed just now:
    its memory store forgets the oldest once 10,000 more have completed."""
    load = OPERATIONS[op_name]
    if "{id}" not in load.path:
        return load
    request_id = (
        servers.completed_request(server.url) if server.name.startswith("emulator") else "any-id"
    )
    return dataclasses.replace(load, path=load.path.format(id=request_id))


def _probe(url: str, load: Load) -> None:
    """One request first: a benchmark of the wrong answer would measure nothing."""
    response = httpx.request(load.method, url + load.path, json=load.body, headers=load.headers)
    if response.status_code != load.expect:
        raise RuntimeError(
            f"{load.method} {url}{load.path}: {response.status_code}, expected {load.expect}"
        )


def _median(measured: list[loadgen.Result]) -> dict[str, Any]:
    """The median round by req/s (its own latencies with it), and every round's req/s."""
    median = sorted(measured, key=lambda r: r.rps)[(len(measured) - 1) // 2]
    return {**median.to_dict(), "rps_rounds": [round(r.rps) for r in measured]}


def run() -> dict[str, Any]:
    pins = pinning.current()
    ops = [op for op in OPERATIONS if not OPS or op in OPS.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    measured: dict[tuple[str, int, str], list[loadgen.Result]] = {}
    try:
        with contextlib.ExitStack() as stack:
            running = {
                "ceiling": servers.ceiling(pins.server),
                **{
                    f"emulator-{store}": servers.emulator(
                        f"emulator-{store}", work / store, store=store, cores=pins.server
                    )
                    for store in STORES
                },
                "prism": servers.prism(work, prism_spec.minimal_openapi(), pins.server),
            }
            started = {name: stack.enter_context(server) for name, server in running.items()}
            for op_name in ops:  # warm-up: JITs, caches, the first lifecycle
                for server in started.values():
                    load = _load(op_name, server)
                    _probe(server.url, load)
                    loadgen.run(
                        server.url,
                        load,
                        connections=max(CONNECTIONS),
                        seconds=WARMUP_SECONDS,
                        cores=pins.load_generator,
                    )
            for round_number in range(1, ROUNDS + 1):
                for op_name in ops:
                    for connections in CONNECTIONS:
                        for name, server in started.items():
                            result = loadgen.run(
                                server.url,
                                _load(op_name, server),
                                connections=connections,
                                seconds=SECONDS,
                                cores=pins.load_generator,
                            )
                            measured.setdefault((op_name, connections, name), []).append(result)
                            _print_run(round_number, op_name, connections, name, result)
            rss = {name: round(server.rss_mb(), 1) for name, server in started.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for (op_name, connections, name), rounds in measured.items():
        results.setdefault(op_name, {}).setdefault(str(connections), {})[name] = _median(rounds)
    return {
        "load_generator": loadgen.GENERATOR.describe(),
        "latency_resolution_ms": loadgen.GENERATOR.latency_resolution_ms,
        "pinning": pins.record(),
        "seconds_per_round": SECONDS,
        "rounds": ROUNDS,
        "warmup_seconds": WARMUP_SECONDS,
        "timing_profile": "instant",
        "prism_document": sorted(f"{m.upper()} {p}" for p, m in prism_spec.EXAMPLES),
        "results": results,
        "rss_mb_after": rss,
        "summary": _summary(results),
    }


def _print_run(
    round_number: int, op_name: str, connections: int, name: str, r: loadgen.Result
) -> None:
    errors = f" ({r.errors} errors)" if r.errors else ""
    print(
        f"round {round_number} {op_name:8} c={connections:<3} {name:16} {r.rps:8.0f}/s"
        f" p50 {loadgen.fmt_ms(r.p50_ms)} p99 {loadgen.fmt_ms(r.p99_ms)} ms{errors}",
        flush=True,
    )


def _cores(cores: list[int]) -> str:
    return ",".join(map(str, cores))


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _summary(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per cell and store: req/s, p99, ÷ ceiling and ÷ Prism; at 32 connections, the targets."""
    out: dict[str, Any] = {}
    for op_name, by_conns in results.items():
        for connections, cell in by_conns.items():
            ceiling, prism = cell["ceiling"], cell["prism"]
            for store in STORES:
                r = cell[f"emulator-{store}"]
                row: dict[str, Any] = {
                    **{k: r[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
                    "of_ceiling": _ratio(r["rps"], ceiling["rps"]),
                    "of_prism": _ratio(r["rps"], prism["rps"]),
                }
                if int(connections) == TARGET_CONNECTIONS:
                    row["targets"] = {
                        "ceiling_share": (row["of_ceiling"] or 0) >= CEILING_SHARE[op_name],
                        "prism_multiple": (row["of_prism"] or 0) >= PRISM_MULTIPLE.get(op_name, 0),
                        "p99": r["p99_ms"] <= P99_CEILING_MULTIPLE * ceiling["p99_ms"],
                    }
                out.setdefault(op_name, {}).setdefault(connections, {})[store] = row
    return out


def _yes(held: bool) -> str:
    return "yes" if held else "**no**"


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}"


def _errors(r: dict[str, Any]) -> str:
    return f", {r['errors']} errors" if r["errors"] else ""


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A Markdown table to paste: per operation and connection count, the ceiling, both stores
    (÷ ceiling, ÷ Prism, p99) and Prism, and whether each target held; then how it was run."""
    resolution = result["latency_resolution_ms"]

    def ms(r: dict[str, Any]) -> str:
        return f"{loadgen.fmt_ms(r['p99_ms'], resolution)} ms{_errors(r)}"

    lines = [
        "| operation | conns | ceiling req/s (p99) | memory req/s (÷ceiling, ÷Prism, p99)"
        " | sqlite req/s (÷ceiling, ÷Prism, p99) | Prism req/s (p99) | targets held |",
        "|---|---|---|---|---|---|---|",
    ]
    for op_name, by_conns in result["results"].items():
        for connections, cell in by_conns.items():
            rows = result["summary"][op_name][connections]
            ceiling, prism = cell["ceiling"], cell["prism"]
            stores = [
                f"{r['rps']:.0f} ({_times(r['of_ceiling'])}, {_times(r['of_prism'])}, {ms(r)})"
                for r in (rows[store] for store in STORES)
            ]
            held = "; ".join(
                f"{store}: req/s {_yes(t['ceiling_share'])}"
                + (f", ÷Prism {_yes(t['prism_multiple'])}" if op_name in PRISM_MULTIPLE else "")
                + f", p99 {_yes(t['p99'])}"
                for store in STORES
                if (t := rows[store].get("targets"))
            )
            lines.append(
                f"| {op_name} | {connections} | {ceiling['rps']:.0f} ({ms(ceiling)})"
                f" | {' | '.join(stores)} | {prism['rps']:.0f} ({ms(prism)})"
                f" | {held or '–'} |"
            )
    targets = ", ".join(f"{op} ≥ {share:g}×" for op, share in CEILING_SHARE.items())
    targets += "".join(f"; {op} ≥ {times:g}× Prism's" for op, times in PRISM_MULTIPLE.items())
    pins = result["pinning"]
    pinned = (
        pins
        if isinstance(pins, str)
        else f"servers on core {_cores(pins['server'])}, generator on core"
        f" {_cores(pins['load_generator'])}"
    )
    lines.append(
        f"Generator {result['load_generator']}; pinning: {pinned}; median of"
        f" {result['rounds']} interleaved {result['seconds_per_round']:g} s rounds"
        f" ({result['warmup_seconds']} s warm-up). Targets at {TARGET_CONNECTIONS} connections:"
        f" req/s of the ceiling's {targets}; p99 ≤ {P99_CEILING_MULTIPLE:g}× the ceiling's."
    )
    return lines
