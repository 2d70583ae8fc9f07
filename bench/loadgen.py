"""Load generation with wrk (Debian's package), driven by generated Lua scripts.

Why wrk: a compiled, event-driven generator costs far less CPU per request than any Python
client, and on a 2-core machine every cycle the generator burns is taken from the server under
test. One wrk thread is used everywhere, so all targets face the same generator. wrk is bounded
by time (-d); `max_requests` additionally stops it after that many responses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUA = """
wrk.method = "{method}"
wrk.path = [==[{path}]==]
{body}
wrk.headers["Authorization"] = "Key bench"
wrk.headers["Content-Type"] = "application/json"
{limit}
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""
LIMIT = """
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= {n} then wrk.thread:stop() end
end
"""


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
    errors: int  # connect/read/write/timeout errors, plus statuses other than expected
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


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install wrk)", flush=True)
        quiet = {"stdout": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, **quiet)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("the benchmarks need wrk: apt-get install wrk (or brew install wrk)")
    return found


def run(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: int = 10,
) -> Result:
    body = "" if load.body is None else f"wrk.body = [==[{json.dumps(load.body)}]==]"
    limit = LIMIT.format(n=max_requests) if max_requests else ""
    script = LUA.format(method=load.method, path=load.path, body=body, limit=limit)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            ensure_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s}s", "-s", handle.name, base_url,
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(handle.name).unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    # wrk counts every non-2xx/3xx as a status error: expected for the 422 path
    status_errors = data["requests"] - data["status"] if load.expect >= 400 else data["status"]
    transport = sum(data[k] for k in ("connect", "read", "write", "timeout"))
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=transport + status_errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
