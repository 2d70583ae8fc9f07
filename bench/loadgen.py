"""Load generation with autocannon (npm; pinned in bench/node, installed by `make bench`).

Why autocannon: one event-driven Node process costs less CPU per request than any Python
client, and on a 2-core machine every cycle the generator burns is taken from the server under
test. It installs with npm from a lock file like the rest of the Node tooling, so a fresh machine
needs nothing beyond Python and Node. It runs as a CLI subprocess with `--json`, one process
(no worker threads) everywhere, so all targets face the same generator, only on 127.0.0.1.

Bounded by time (-d); `max_requests` runs by count instead (-a: autocannon then ignores -d).
autocannon notices the end only at its next sample tick, so ticks are 10 ms (-L 10), not 1 s:
otherwise a run by count would be timed to the next whole second.
Its latency histogram records whole milliseconds (fractions are truncated), so a p50 of 0 means
"under 1 ms"; throughput and error counts are exact.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NODE_DIR = Path(__file__).resolve().parent / "node"  # package.json + lock; node_modules ignored
LATENCY_RESOLUTION_MS = 1


def node_bin(name: str) -> Path:
    """A launcher from bench/node/node_modules/.bin, or exit saying how to install it."""
    found = NODE_DIR / "node_modules" / ".bin" / name
    if not found.exists():
        raise SystemExit(f"{found} is missing: run make bench (npm ci in {NODE_DIR})")
    return found


def fmt_ms(value: float) -> str:
    """A latency for display, at autocannon's resolution: whole ms, 0 shown as "<1"."""
    return "<1" if value < LATENCY_RESOLUTION_MS else f"{value:g}"


@dataclass(frozen=True)
class Load:
    """One HTTP request shape to repeat."""

    method: str
    path: str
    body: Any = None
    expect: int = 200


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: int  # connection errors and timeouts, plus responses whose status is not expected
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "errors": self.errors,
        }


def command(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: int = 10,
) -> list[str]:
    """autocannon's argument list for one run (JSON result on stdout)."""
    if urlsplit(base_url).hostname != "127.0.0.1":
        raise ValueError(f"the benchmarks only load 127.0.0.1, not {base_url}")
    args = [str(node_bin("autocannon")), "--json", "-t", str(timeout_s), "-L", "10"]
    args += ["-m", load.method, "-H", "Authorization=Key bench:key"]
    if load.body is not None:
        args += ["-H", "Content-Type=application/json", "-b", json.dumps(load.body)]
    if max_requests:  # autocannon refuses more connections than requests
        args += ["-c", str(min(connections, max_requests)), "-a", str(max_requests)]
    else:
        args += ["-c", str(connections), "-d", str(seconds)]
    return [*args, base_url + load.path]


def run(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: int = 10,
) -> Result:
    argv = command(
        base_url,
        load,
        connections=connections,
        seconds=seconds,
        max_requests=max_requests,
        timeout_s=timeout_s,
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"autocannon failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    data = json.loads(line)
    counts = {int(code): stats["count"] for code, stats in data["statusCodeStats"].items()}
    unexpected = sum(n for code, n in counts.items() if code != load.expect)
    latency = data["latency"]
    return Result(
        requests=data["requests"]["total"],
        seconds=data["duration"],
        errors=data["errors"] + unexpected,  # autocannon's errors already include timeouts
        p50_ms=latency["p50"],
        p99_ms=latency["p99"],
        max_ms=latency["max"],
    )
