"""The queue benchmark's load generation: wrk's script and report, and where processes run.

The reports are real wrk 4.1 output (the bench's Lua script appends the JSON line): one run
against the ceiling with 422s expected, one against a socket server that drops a third of its
connections unanswered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import loadgen, pinning
from bench.loadgen import Load

WRK_MS_REPORT = """\
Running 2s test @ http://127.0.0.1:18762/run/fal-ai/luma-dream-machine/ray-2
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.49ms    4.24ms  88.21ms   97.04%
    Req/Sec     6.14k     1.65k    8.70k    47.62%
  Latency Distribution
     50%    4.67ms
     75%    6.55ms
     90%    7.87ms
     99%   14.06ms
  12852 requests in 2.10s, 2.70MB read
  Non-2xx or 3xx responses: 12852
Requests/sec:   6107.85
Transfer/sec:      1.28MB
{"unexpected": 3}
"""

WRK_SOCKET_ERRORS_REPORT = """\
Running 1s test @ http://127.0.0.1:18764/run/x
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   315.65us  157.05us   2.64ms   79.10%
    Req/Sec     5.03k   497.11     5.94k    60.00%
  Latency Distribution
     50%  302.00us
     75%  386.00us
     90%  469.00us
     99%  732.00us
  5004 requests in 1.00s, 376.28KB read
  Socket errors: connect 0, read 2502, write 0, timeout 0
  Non-2xx or 3xx responses: 5004
Requests/sec:   5001.96
Transfer/sec:    376.12KB
{"unexpected": 0}
"""


def test_lua_script_sends_the_load_and_counts_other_statuses() -> None:
    script = loadgen.lua_script(Load("POST", "/run/x", {"prompt": 7}, expect=422))
    assert script.startswith(
        'wrk.method = "POST"\n'
        'wrk.body = "{\\034prompt\\034: 7}"\n'
        'wrk.headers["Authorization"] = "Key bench:key"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    assert "if status ~= 422 then" in script
    assert 'thread:get("unexpected")' in script  # each thread's count, summed in done()


def test_lua_script_without_a_body_sends_no_content_type() -> None:
    script = loadgen.lua_script(Load("GET", "/requests/abc/status"))
    assert "wrk.body" not in script and "Content-Type" not in script
    assert "if status ~= 200 then" in script


def test_lua_strings_escape_quotes_backslashes_and_non_ascii_bytes() -> None:
    assert loadgen._lua_string('a"b\\c é') == '"a\\034b\\092c \\195\\169"'


def test_parse_wrk_reads_requests_duration_and_percentiles_in_ms() -> None:
    result = loadgen.parse_wrk(WRK_MS_REPORT)
    assert (result.requests, result.seconds, result.errors) == (12852, 2.1, 3)
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (4.67, 14.06, 88.21)
    assert result.rps == pytest.approx(6120, abs=1)


def test_parse_wrk_converts_microseconds_and_counts_socket_errors() -> None:
    result = loadgen.parse_wrk(WRK_SOCKET_ERRORS_REPORT)
    assert result.p50_ms == pytest.approx(0.302)
    assert result.p99_ms == pytest.approx(0.732)
    assert result.max_ms == pytest.approx(2.64)
    assert (result.requests, result.seconds, result.errors) == (5004, 1.0, 2502)


@pytest.mark.parametrize(("shown", "ms"), [("1.50s", 1500.0), ("2.00m", 120_000.0)])
def test_parse_wrk_converts_seconds_and_minutes(shown: str, ms: float) -> None:
    result = loadgen.parse_wrk(WRK_MS_REPORT.replace("14.06ms", shown))
    assert result.p99_ms == ms


def test_parse_wrk_refuses_a_report_without_the_scripts_count() -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        loadgen.parse_wrk(WRK_MS_REPORT.replace('{"unexpected": 3}\n', ""))


def test_wrk_runs_one_thread_for_whole_seconds_with_latency_percentiles() -> None:
    argv = loadgen.wrk_command(
        "http://127.0.0.1:1/x", Path("s.lua"), connections=32, seconds=1.5, timeout_s=10
    )
    assert argv == [
        "wrk", "-t", "1", "-c", "32", "-d", "2s", "--timeout", "10s", "--latency",
        "-s", "s.lua", "http://127.0.0.1:1/x",
    ]  # fmt: skip


def test_only_loopback_is_loaded() -> None:
    with pytest.raises(ValueError, match="only load 127.0.0.1"):
        loadgen.run("http://example.com", Load("GET", "/"), connections=1, seconds=1)


def test_latency_shown_at_the_generators_resolution() -> None:
    assert loadgen.fmt_ms(0.0, 1.0) == "<1"
    assert loadgen.fmt_ms(24.0, 1.0) == "24"
    assert loadgen.fmt_ms(4.6712, 0.001) == "4.67"


@pytest.mark.parametrize(
    ("available", "server", "generator", "recorded"),
    [
        ({0, 1}, (0,), (1,), {"server": [0], "load_generator": [1]}),
        ({3, 2, 5}, (2,), (3,), {"server": [2], "load_generator": [3]}),
        ({0}, None, None, "none (1 core)"),
    ],
)
def test_servers_and_generator_get_separate_cores_when_there_are_two(
    available: set[int], server: tuple[int, ...] | None, generator: tuple[int, ...] | None,
    recorded: object,
) -> None:  # fmt: skip
    plan = pinning.plan(available)
    assert (plan.server, plan.load_generator, plan.record()) == (server, generator, recorded)
    assert (pinning.preexec(plan.server) is None) == (server is None)
