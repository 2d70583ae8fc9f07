"""`serve --workers 2` against `serve` (one process), both on one SQLite state.

Throughput of submit and status at 32 and 128 connections, interleaved rounds, medians kept.
Shared state is checked on the way: requests submitted to the two-worker server are all found
(and completed) through fresh connections, which the kernel spreads over both workers.
On a 2-core machine the load generator takes one core's worth of time, so two workers cannot
double anything; the ratio says what a second process buys here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, servers
from bench.loadgen import Load

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": "Key bench:key"}
CONNECTIONS = (32, 128)
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SHARED_CHECK = 200


def _shared_state(url: str) -> dict[str, int]:
    """Submit on fresh connections, then read every one back on fresh connections."""
    ids = []
    for i in range(SHARED_CHECK):
        with httpx.Client(headers=AUTH) as client:  # a new connection each time
            submitted = client.post(f"{url}{APP}/ray-2", json={"prompt": f"shared {i % 2}"})
            ids.append(submitted.json()["request_id"])
    deadline = time.monotonic() + 60
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for request_id in list(pending):
            with httpx.Client(headers=AUTH) as client:
                if client.get(f"{url}{APP}/requests/{request_id}/status").status_code == 200:
                    pending.discard(request_id)
    return {"submitted": len(ids), "completed_and_found": len(ids) - len(pending)}


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    results: dict[str, Any] = {}
    try:
        with (
            servers.emulator("one", work / "one", store="sqlite", workers=1) as one,
            servers.emulator("two", work / "two", store="sqlite", workers=2) as two,
        ):
            targets = {"1 worker": one, "2 workers": two}
            ids = {name: servers.completed_request(server.url) for name, server in targets.items()}
            shared = _shared_state(two.url)
            for op, make in (
                ("submit", lambda _id: Load("POST", f"{APP}/ray-2", {"prompt": "w prompt"})),
                ("status", lambda rid: Load("GET", f"{APP}/requests/{rid}/status")),
            ):
                for connections in CONNECTIONS:
                    rounds: dict[str, list[loadgen.Result]] = {name: [] for name in targets}
                    for _ in range(ROUNDS):
                        for name, server in targets.items():
                            rounds[name].append(
                                loadgen.run(
                                    server.url, make(ids[name]), connections=connections,
                                    seconds=SECONDS,
                                )
                            )  # fmt: skip
                    median = {
                        n: sorted(v, key=lambda r: r.rps)[(len(v) - 1) // 2]
                        for n, v in rounds.items()
                    }
                    row = {
                        **{f"{n} rps": round(r.rps) for n, r in median.items()},
                        **{f"{n} p99_ms": round(r.p99_ms, 2) for n, r in median.items()},
                        "ratio": round(median["2 workers"].rps / median["1 worker"].rps, 3),
                    }
                    results[f"{op} c={connections}"] = row
                    print(f"workers {op} c={connections}: {row}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "shared_state": shared,
        "cpus": os.cpu_count(),
        "load_generator": loadgen.GENERATOR.describe(),
        "results": results,
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per operation and connection count, then the shared-state check."""
    lines = []
    for cell, row in result["results"].items():
        one, two = (
            f"{row[f'{n} rps']}/s p99 {loadgen.fmt_ms(row[f'{n} p99_ms'])} ms"
            for n in ("1 worker", "2 workers")
        )
        lines.append(f"workers {cell:12}: 1 worker {one}, 2 workers {two} (x{row['ratio']})")
    shared = result["shared_state"]
    lines.append(
        f"workers shared state: {shared['completed_and_found']} of {shared['submitted']}"
        " submits on 2 workers found completed"
    )
    return lines
