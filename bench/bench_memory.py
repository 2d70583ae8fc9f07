"""Resident memory of `ray2-mock serve` after 10k and 100k submits, per store, against a flat
footprint: RSS < 150 MB after the last step with BOTH stores (issue 16).

Measured: the RSS of the server process and its children, read from /proc once the queue
driver has had a second to finish what was accepted (at start and after each step), for a fresh
`serve --timing instant` with default settings per store. The load is submits, the only
requests that add state, run by count up to each step (autocannon: wrk runs by time only),
again for any that failed; the exact count is recorded.

What is bounded, by design: the memory store forgets a completed request `--retention`
emulated seconds after it completes (fal's 1 h, the default 3600) or once more than
`--retention-count` (10,000) have completed, oldest first; the SQLite store keeps records on
disk and only a bounded cache of decoded ones in memory; the request journal is a ring of
`--journal-size` entries (1,000). So past the first 10,000 submits neither store should grow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import loadgen, servers
from bench.loadgen import Load

CHECKPOINTS = tuple(int(n) for n in os.environ.get("BENCH_MEMORY_STEPS", "10000,100000").split(","))
TARGET_MB = 150
SUBMIT = Load("POST", "/fal-ai/luma-dream-machine/ray-2", {"prompt": "memory"})


def _settle(server: servers.Server) -> None:
    """Give the queue driver time to finish what was accepted, so RSS is not mid-burst."""
    time.sleep(1.0)


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    results: dict[str, Any] = {}
    try:
        for store in ("memory", "sqlite"):
            with servers.emulator(f"emulator-{store}", work / store, store=store) as server:
                _settle(server)
                row: dict[str, Any] = {"start_mb": round(server.rss_mb(), 1)}
                sent = 0
                for checkpoint in CHECKPOINTS:
                    started, errors = time.perf_counter(), 0
                    while sent < checkpoint:  # by count (-a), so seconds is unused
                        measured = loadgen.run(
                            server.url,
                            SUBMIT,
                            connections=32,
                            seconds=0,
                            max_requests=checkpoint - sent,
                        )
                        if not measured.requests:
                            raise RuntimeError(f"emulator-{store} answered no submits")
                        sent += measured.requests
                        errors += measured.errors
                    took = time.perf_counter() - started
                    _settle(server)
                    row[f"after_{checkpoint}_mb"] = round(server.rss_mb(), 1)
                    row[f"requests_at_{checkpoint}"] = sent
                    row[f"seconds_to_{checkpoint}"] = round(took, 1)
                    row[f"errors_to_{checkpoint}"] = errors
                row["requests"] = sent
                first, last = CHECKPOINTS[0], CHECKPOINTS[-1]
                growth = row[f"after_{last}_mb"] - row[f"after_{first}_mb"]
                counted = row[f"requests_at_{last}"] - row[f"requests_at_{first}"]
                row["kb_per_request_after_first_checkpoint"] = round(
                    growth * 1024 / max(1, counted), 3
                )
                row["target_held"] = row[f"after_{last}_mb"] < TARGET_MB
                results[store] = row
                print(f"memory {store}: {row}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = "submits by count, autocannon, 32 connections"
    return {"target_mb": TARGET_MB, "load": load, "stores": results}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per store: RSS at start and at each checkpoint, and whether the target held."""
    lines = []
    for store, row in result["stores"].items():
        steps = [f"{row[f'after_{n}_mb']} MB after {row[f'requests_at_{n}']}" for n in CHECKPOINTS]
        errors = sum(v for k, v in row.items() if k.startswith("errors_to_"))
        verdict = "held" if row["target_held"] else "missed"
        lines.append(
            f"memory {store:6}: {row['start_mb']} MB at start, {', '.join(steps)} submits;"
            f" target < {result['target_mb']} MB {verdict}{f' ({errors} errors)' if errors else ''}"
        )
    return lines
