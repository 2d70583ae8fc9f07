"""Load generation: wrk when it is on PATH, else autocannon (npm; pinned in bench/node).

Why these: one event-driven process in C (wrk) or Node (autocannon) costs far less CPU per
request than any Python client, so the generator is not what limits the figures. wrk is the
cheaper of the two and records latency in microseconds, but it is a distro package (Debian:
`wrk`) a fresh machine may lack; autocannon installs from bench/node's lock file with the rest of
the Node tooling (`make bench`). `BENCH_LOADGEN=autocannon` picks autocannon anyway. Either runs
as one subprocess (wrk with one thread, autocannon without workers) on keep-alive connections,
only against 127.0.0.1, and optionally pinned to a core (bench/pinning.py).

wrk runs by time in whole seconds (its -d takes no fractions). A run by count (`max_requests`,
what bench_memory needs) always uses autocannon (-a; it then ignores -d). autocannon notices
the end only at its next sample tick, so ticks are 10 ms (-L 10), not 1 s: otherwise a run by
count would be timed to the next whole second. Its latency histogram records whole
milliseconds (fractions truncated), so a p50 of 0 means "under 1 ms".

wrk's own "Non-2xx or 3xx responses" cannot tell an expected 422 from a wrong answer, so the
generated Lua script counts the responses whose status is not the expected one (a global per
thread, summed in `done`, printed as one JSON line).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import string
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import pinning

NODE_DIR = Path(__file__).resolve().parent / "node"  # package.json + lock; node_modules ignored
AUTHORIZATION = "Key bench:key"


def node_bin(name: str) -> Path:
    """A launcher from bench/node/node_modules/.bin, or exit saying how to install it."""
    found = NODE_DIR / "node_modules" / ".bin" / name
    if not found.exists():
        raise SystemExit(f"{found} is missing: run make bench (npm ci in {NODE_DIR})")
    return found


@dataclass(frozen=True)
class Load:
    """One HTTP request shape to repeat."""

    method: str
    path: str
    body: Any = None
    expect: int = 200

    @property
    def headers(self) -> dict[str, str]:
        json_body = {} if self.body is None else {"Content-Type": "application/json"}
        return {"Authorization": AUTHORIZATION, **json_body}


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


def _loopback_url(base_url: str, load: Load) -> str:
    if urlsplit(base_url).hostname != "127.0.0.1":
        raise ValueError(f"the benchmarks only load 127.0.0.1, not {base_url}")
    return base_url + load.path


# -- wrk ----------------------------------------------------------------------------------------

WRK_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_WRK_TIME = r"([\d.]+)(us|ms|s|m|h)"
_LINE, _SP = r"^[ \t]*", r"[ \t]+"  # wrk pads with spaces; a match never spans lines
_LUA_COUNTER = string.Template("""
unexpected = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= $expect then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
  end
  io.write(string.format('{"unexpected": %d}\\n', total))
end
""")


def _lua_string(text: str) -> str:
    """A Lua string literal: printable ASCII as is, every other byte as a decimal escape."""
    escaped = (
        chr(byte) if 32 <= byte < 127 and chr(byte) not in '"\\' else f"\\{byte:03d}"
        for byte in text.encode()
    )
    return '"' + "".join(escaped) + '"'


def lua_script(load: Load) -> str:
    """wrk's script for one Load: the request, and the count of unexpected statuses."""
    lines = [f"wrk.method = {_lua_string(load.method)}"]
    if load.body is not None:
        lines.append(f"wrk.body = {_lua_string(json.dumps(load.body))}")
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in load.headers.items()]
    return "\n".join(lines) + "\n" + _LUA_COUNTER.substitute(expect=load.expect)


def wrk_command(
    url: str, script: Path, *, connections: int, seconds: float, timeout_s: int
) -> list[str]:
    """wrk's argument list: one thread, whole seconds, latency percentiles printed."""
    return [
        "wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, math.ceil(seconds))}s",
        "--timeout", f"{timeout_s}s", "--latency", "-s", str(script), url,
    ]  # fmt: skip


def _wrk_ms(output: str, pattern: str) -> float:
    found = re.search(pattern + _WRK_TIME, output, re.MULTILINE)
    if found is None:
        raise ValueError(f"wrk's output has no match for {pattern!r}:\n{output}")
    number, unit = found.groups()[-2:]
    return float(number) * WRK_TIME_UNITS_MS[unit]


def parse_wrk(output: str) -> Result:
    """wrk's printed report (with --latency) and the script's JSON line, as a Result."""
    requests = re.search(_LINE + r"(\d+) requests in ", output, re.MULTILINE)
    counted = next((line for line in output.splitlines() if line.startswith("{")), None)
    if requests is None or counted is None:
        raise ValueError(f"not a wrk report from bench's script:\n{output}")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(map(int, sockets.groups())) if sockets else 0
    return Result(
        requests=int(requests.group(1)),
        seconds=_wrk_ms(output, _LINE + r"\d+ requests in ") / 1000,
        errors=socket_errors + int(json.loads(counted)["unexpected"]),
        p50_ms=_wrk_ms(output, rf"{_LINE}50%{_SP}"),
        p99_ms=_wrk_ms(output, rf"{_LINE}99%{_SP}"),
        max_ms=_wrk_ms(output, rf"{_LINE}Latency{_SP}\S+{_SP}\S+{_SP}"),
    )


def _run_wrk(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    timeout_s: int,
    cores: Sequence[int] | None,
) -> Result:
    url = _loopback_url(base_url, load)
    with tempfile.NamedTemporaryFile("w", prefix="bench-wrk-", suffix=".lua") as script:
        script.write(lua_script(load))
        script.flush()
        argv = wrk_command(
            url, Path(script.name), connections=connections, seconds=seconds, timeout_s=timeout_s
        )
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, preexec_fn=pinning.preexec(cores)
        )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stderr + done.stdout)[-2000:]}")
    return parse_wrk(done.stdout)


def _wrk_version() -> str:
    shown = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (shown.stdout + shown.stderr).split(" Copyright")[0].strip()


# -- autocannon ---------------------------------------------------------------------------------


def autocannon_command(
    url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: int = 10,
) -> list[str]:
    """autocannon's argument list for one run (JSON result on stdout)."""
    args = [str(node_bin("autocannon")), "--json", "-t", str(timeout_s), "-L", "10"]
    args += ["-m", load.method]
    args += [arg for k, v in load.headers.items() for arg in ("-H", f"{k}={v}")]
    if load.body is not None:
        args += ["-b", json.dumps(load.body)]
    if max_requests:  # autocannon refuses more connections than requests
        args += ["-c", str(min(connections, max_requests)), "-a", str(max_requests)]
    else:
        args += ["-c", str(connections), "-d", str(seconds)]
    return [*args, url]


def _run_autocannon(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    timeout_s: int,
    cores: Sequence[int] | None,
    max_requests: int | None = None,
) -> Result:
    argv = autocannon_command(
        _loopback_url(base_url, load),
        load,
        connections=connections,
        seconds=seconds,
        max_requests=max_requests,
        timeout_s=timeout_s,
    )
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, preexec_fn=pinning.preexec(cores)
    )
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


def _autocannon_version() -> str:
    package = NODE_DIR / "node_modules" / "autocannon" / "package.json"
    return f"autocannon {json.loads(package.read_text())['version']}"


# -- the generator in use -----------------------------------------------------------------------


@dataclass(frozen=True)
class Generator:
    name: str
    shape: str  # how it runs, for the record
    latency_resolution_ms: float
    version: Callable[[], str]
    run: Callable[..., Result]  # by time: (base_url, load, *, connections, seconds, ...)

    def describe(self) -> str:
        return f"{self.version()} ({self.shape})"


GENERATORS = {
    "wrk": Generator("wrk", "1 thread, Lua status count", 0.001, _wrk_version, _run_wrk),
    "autocannon": Generator(
        "autocannon", "one process, no workers", 1.0, _autocannon_version, _run_autocannon
    ),
}
GENERATOR = GENERATORS[
    os.environ.get("BENCH_LOADGEN") or ("wrk" if shutil.which("wrk") else "autocannon")
]


def run(
    base_url: str,
    load: Load,
    *,
    connections: int,
    seconds: float,
    max_requests: int | None = None,
    timeout_s: int = 10,
    cores: Sequence[int] | None = None,
) -> Result:
    """One run by time with GENERATOR, or by count (`max_requests`) with autocannon."""
    if max_requests:
        return _run_autocannon(
            base_url,
            load,
            connections=connections,
            seconds=seconds,
            timeout_s=timeout_s,
            cores=cores,
            max_requests=max_requests,
        )
    return GENERATOR.run(
        base_url, load, connections=connections, seconds=seconds, timeout_s=timeout_s, cores=cores
    )


def fmt_ms(value: float, resolution_ms: float = GENERATOR.latency_resolution_ms) -> str:
    """A latency for display at the generator's resolution ("<1" for autocannon's 0)."""
    return f"<{resolution_ms:g}" if value < resolution_ms else f"{round(value, 2):g}"
