"""Queue path throughput and latency: the emulator beside its ceiling and beside Prism.

Targets, each a real process on loopback, measured in the same run, interleaved per cell so
drifting machine load hits all of them alike:
- ceiling: a bare Starlette app on the same uvicorn/uvloop/httptools stack (bench/ceiling.py);
- emulator (memory store) and emulator (SQLite store): `ray2-mock serve --timing instant
  --log-level warning`, so every submit runs the whole lifecycle (render is a cache hit);
- Prism: `prism mock` of the emulator's own OpenAPI document (the tool one would otherwise pick).
Operations: submit, status and result of a completed request, and the 422 path (invalid body),
each at 1, 8, 32 and 128 connections, with autocannon (bench/loadgen.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, servers
from bench.loadgen import Load

CONNECTIONS = tuple(int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,8,32,128").split(","))
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))  # interleaved; the median round is kept
OPS = os.environ.get("BENCH_OPS")  # e.g. "submit,status" to run only those
WARMUP_SECONDS = 1
APP = "/fal-ai/luma-dream-machine"
TARGETS = ("ceiling", "emulator-memory", "emulator-sqlite", "prism")
TARGET_P99_MS = 10.0  # at 32 connections
TARGET_CEILING_SHARE = 0.6
TARGET_PRISM_MULTIPLE = 3.0


def _operations(request_id: str) -> dict[str, Load]:
    return {
        "submit": Load("POST", f"{APP}/ray-2", {"prompt": "bench"}),
        "status": Load("GET", f"{APP}/requests/{request_id}/status"),
        "result": Load("GET", f"{APP}/requests/{request_id}"),
        "invalid (422)": Load("POST", f"{APP}/ray-2", {"prompt": 7}, expect=422),
    }


def _probe(url: str, load: Load) -> None:
    """One request first: a benchmark of the wrong answer would measure nothing."""
    response = httpx.request(
        load.method, url + load.path, json=load.body, headers={"Authorization": "Key bench:key"}
    )
    if response.status_code != load.expect:
        raise RuntimeError(
            f"{load.method} {url}{load.path}: {response.status_code}, expected {load.expect}"
        )


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        with contextlib.ExitStack() as stack:
            running = {
                "ceiling": stack.enter_context(servers.ceiling()),
                "emulator-memory": stack.enter_context(
                    servers.emulator("emulator-memory", work / "memory", store="memory")
                ),
                "emulator-sqlite": stack.enter_context(
                    servers.emulator("emulator-sqlite", work / "sqlite", store="sqlite")
                ),
            }
            running["prism"] = stack.enter_context(servers.prism(work))
            ids = {
                name: servers.completed_request(server.url)
                if name.startswith("emulator")
                else "any-id"
                for name, server in running.items()
            }
            for op_name in _operations("x"):
                if OPS and op_name not in OPS.split(","):
                    continue
                results[op_name] = {}
                for name, server in running.items():
                    load = _operations(ids[name])[op_name]
                    _probe(server.url, load)
                    loadgen.run(server.url, load, connections=8, seconds=WARMUP_SECONDS)
                for connections in CONNECTIONS:
                    rounds: dict[str, list[loadgen.Result]] = {name: [] for name in running}
                    for _ in range(ROUNDS):
                        for name, server in running.items():
                            load = _operations(ids[name])[op_name]
                            rounds[name].append(
                                loadgen.run(
                                    server.url, load, connections=connections, seconds=SECONDS
                                )
                            )
                    cell: dict[str, Any] = {}
                    for name, measured in rounds.items():
                        median = sorted(measured, key=lambda r: r.rps)[(len(measured) - 1) // 2]
                        cell[name] = {
                            **median.to_dict(),
                            "rps_rounds": [round(r.rps) for r in measured],
                        }
                    results[op_name][str(connections)] = cell
                    _print_cell(op_name, connections, cell)
            rss = {name: round(server.rss_mb(), 1) for name, server in running.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = _summary(results)
    _print_summary(summary)
    return {
        "load_generator": "autocannon (npm, bench/node), one process, keep-alive connections",
        "latency_resolution_ms": loadgen.LATENCY_RESOLUTION_MS,
        "seconds_per_round": SECONDS,
        "rounds": ROUNDS,
        "timing_profile": "instant",
        "results": results,
        "rss_mb_after": rss,
        "summary": summary,
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _summary(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Ratios at every cell, and the targets checked at 32 connections (when measured)."""
    out: dict[str, Any] = {}
    for op_name, by_conns in results.items():
        for connections, cell in by_conns.items():
            for store in ("emulator-memory", "emulator-sqlite"):
                r = cell[store]
                row = {
                    **{k: r[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
                    "of_ceiling": _ratio(r["rps"], cell["ceiling"]["rps"]),
                    "x_prism": _ratio(r["rps"], cell["prism"]["rps"]),
                }
                if connections == "32":
                    row["meets"] = {
                        "ceiling_share": (row["of_ceiling"] or 0) >= TARGET_CEILING_SHARE,
                        "prism_multiple": (row["x_prism"] or 0) >= TARGET_PRISM_MULTIPLE,
                        "p99": row["p99_ms"] < TARGET_P99_MS,
                    }
                out.setdefault(op_name, {}).setdefault(connections, {})[store] = row
    return out


def _print_cell(op_name: str, connections: int, cell: dict[str, Any]) -> None:
    parts = [f"{op_name:14} c={connections:<3}"]
    for name in TARGETS:
        r = cell[name]
        ms = f"p50 {loadgen.fmt_ms(r['p50_ms']):>4} p99 {loadgen.fmt_ms(r['p99_ms']):>4}"
        parts.append(f"{name} {r['rps']:7.0f}/s {ms}")
        if r["errors"]:
            parts.append(f"({r['errors']} errors)")
    print(" | ".join(parts), flush=True)


def _print_summary(summary: dict[str, Any]) -> None:
    checked = [
        (op_name, store, row["meets"])
        for op_name, by_conns in summary.items()
        for store, row in by_conns.get("32", {}).items()
    ]
    if checked:
        print(
            f"targets at 32 connections (>= {TARGET_CEILING_SHARE:.0%} of ceiling,"
            f" >= {TARGET_PRISM_MULTIPLE:g}x Prism, p99 < {TARGET_P99_MS:g} ms):"
        )
    for op_name, store, meets in checked:
        print(f"  {op_name:14} {store:16} {meets}")


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The final table: operation x connections; per store req/s, p50/p99 ms, share of the
    ceiling's req/s, multiple of Prism's."""
    stores = ("memory", "sqlite")
    lines = [
        f"{'operation':14} {'conns':>5}"
        + "".join(f" | {f'{s} req/s':>12} {'p50/p99':>7} {'ceil':>5} {'Prism':>6}" for s in stores)
    ]
    for op_name, by_conns in result["summary"].items():
        for connections, rows in by_conns.items():
            line, errors = f"{op_name:14} {connections:>5}", []
            for store in stores:
                r = rows[f"emulator-{store}"]
                ms = f"{loadgen.fmt_ms(r['p50_ms'])}/{loadgen.fmt_ms(r['p99_ms'])}"
                share = "-" if r["of_ceiling"] is None else f"{r['of_ceiling']:.0%}"
                times = "-" if r["x_prism"] is None else f"{r['x_prism']:.2f}x"
                line += f" | {r['rps']:12.0f} {ms:>7} {share:>5} {times:>6}"
                errors += [f"{r['errors']} {store}"] if r["errors"] else []
            lines.append(line + (f"  errors: {', '.join(errors)}" if errors else ""))
    return lines
