"""Rehearsal: the paths that spend money run offline, end to end, before they do.

A ``ray2-mock serve`` subprocess (free ports, its own state dir, a fixed key) stands in for fal;
``ray2-mock check --target live`` and ``ray2-mock record`` run as subprocesses after
``eval "$(ray2-mock env)"``, exactly as a user rehearses. The emulator's own request list says
what was really generated, so the budget is checked against what happened, not what was said.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.server.checks import schema_problems
from contracts.server.targets import Target
from tests.reliability.serveproc import ServeProcess, start_serve

KEY = "rehearsal-id:rehearsal-secret"
RAY2 = f"{sys.executable} -m mockserver.cli"
ROUTING_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
FREE_FILES = {
    "t2v-validation-error",
    "t2v-queued-validation-error",
    "i2v-validation-error",
    "i2v-queued-validation-error",
    "unknown-request",
}
PAID_FILES = {"t2v-submit", "t2v-status-completed", "t2v-result", "cancel-completed"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    state = tmp_path_factory.mktemp("rehearsal") / "state"
    served = start_serve(state, "--timing", "instant", "--api-key", KEY, "--log-level", "warning")
    try:
        yield served
    finally:
        assert served.stop() == 0, served.log_text()


@pytest.fixture(scope="module")
def exports(emulator: ServeProcess) -> str:
    """What ``ray2-mock env`` prints for this emulator (asked once: it does not change)."""
    state = emulator.log.parent  # serve's log lives in its state dir
    command = [sys.executable, "-m", "mockserver.cli", "env", "--state-dir", str(state)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def run(
    exports: str,
    *args: str,
    env: dict[str, str] | None = None,
    after_env: str = "",
    python: str = RAY2,
) -> subprocess.CompletedProcess[str]:
    """``eval "$(ray2-mock env)"``, then ``ray2-mock <args>``, in a clean environment whose
    FAL_KEY is the dummy key the emulator accepts (``after_env`` can undo one export)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FAL_", *ROUTING_VARIABLES))}
    clean.update({"FAL_KEY": KEY, "RAY2_EXPORTS": exports, **(env or {})})
    script = f'eval "$RAY2_EXPORTS"\n{after_env}\nexec {python} "$@"'
    return subprocess.run(
        ["sh", "-c", script, "sh", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def records(emulator: ServeProcess) -> list[dict[str, Any]]:
    return httpx.get(f"{emulator.url}/_mock/requests", params={"limit": 1000}).json()["requests"]


def generated_since(emulator: ServeProcess, before: set[str]) -> list[dict[str, Any]]:
    """Requests that really produced a video since ``before`` (what live fal would bill)."""
    return [r for r in records(emulator) if r["request_id"] not in before and r["outcome"] == "ok"]


def units(generated: list[dict[str, Any]]) -> int:
    return sum(Target.cost(r["endpoint_id"], r["input"]) for r in generated)


def seen_ids(emulator: ServeProcess) -> set[str]:
    return {r["request_id"] for r in records(emulator)}


# -- the live suite ----------------------------------------------------------------------------


def test_live_suite_runs_offline_and_stops_at_its_budget(
    emulator: ServeProcess, exports: str
) -> None:
    before = seen_ids(emulator)
    done = run(exports, "check", "--target", "live", "--live-budget", "2")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Traceback" not in out + done.stderr
    assert re.search(r"^PASSED +spec_drift", out, re.M), out
    assert not re.search(r"^FAILED", out, re.M), out
    assert "live budget: spent 2 of 2 units" in out
    for paid in (
        "generated_inputs[t2v]",
        "generated_inputs[flash-reframe]",
        "status_stream",
        "sync_run[t2v]",
        "sync_run[modify]",
        "stateful",
    ):
        assert re.search(rf"^SKIPPED +{re.escape(paid)} .*\n +.*budget", out, re.M), paid
    generated = generated_since(emulator, before)
    assert units(generated) == 2 and len(generated) == 2, generated  # what was said was spent


# -- record ------------------------------------------------------------------------------------


def record(exports: str, out_dir: Path, budget: int) -> subprocess.CompletedProcess[str]:
    return run(exports, "record", "--live-budget", str(budget), "--out", str(out_dir))


def written(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        Path(line.removeprefix("wrote ")).stem
        for line in done.stdout.splitlines()
        if line.startswith("wrote ")
    ]


def assert_clean(path: Path, secrets: set[str]) -> dict[str, Any]:
    """One recorded file: valid JSON, its body valid against its schema, nothing secret in it."""
    text = path.read_text()
    document = json.loads(text)
    assert document["problems"] == [], (path.name, document["problems"])
    assert schema_problems(document["schema"], document["body"]) == [], path.name
    for secret in secrets:
        assert secret not in text, (path.name, secret)
    assert not UUID.search(text), (path.name, UUID.search(text))
    for url in re.findall(r"https?://[^\"\s]+", text):
        query = url.partition("?")[2]
        assert query in ("", "<redacted>"), (path.name, url)  # no signed query strings
        assert "/files/" not in url or "/files/<redacted>/<file-id>_" in url, (path.name, url)
    return document


def test_record_offline_writes_schema_valid_redacted_files(
    emulator: ServeProcess, exports: str, tmp_path: Path
) -> None:
    before = seen_ids(emulator)
    done = record(exports, tmp_path / "recorded", budget=1)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "live budget: spent 1 of 1 units" in done.stdout
    names = set(written(done))
    assert names >= FREE_FILES | PAID_FILES, names
    assert {p.stem for p in (tmp_path / "recorded").iterdir()} == names  # nothing else left
    generated = generated_since(emulator, before)
    assert units(generated) == 1, generated
    new = [r for r in records(emulator) if r["request_id"] not in before]
    secrets = {KEY, *KEY.split(":")}
    secrets |= {r["request_id"] for r in new}
    secrets |= {r["media"][part] for r in generated for part in ("file_id", "shard")}
    for name in names:
        document = assert_clean(tmp_path / "recorded" / f"{name}.json", secrets)
        assert document["source"] == "live fal" and document["name"] == name
    result = json.loads((tmp_path / "recorded" / "t2v-result.json").read_text())["body"]
    assert result["video"]["url"] == "https://v3b.fal.media/files/<redacted>/<file-id>_output.mp4"
    queued = json.loads((tmp_path / "recorded" / "t2v-queued-validation-error.json").read_text())
    assert queued["status_code"] == 422 and queued["body"]["detail"][0]["type"] == "missing"


def test_record_with_no_budget_generates_nothing(
    emulator: ServeProcess, exports: str, tmp_path: Path
) -> None:
    before = seen_ids(emulator)
    done = record(exports, tmp_path, budget=0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "live budget: spent 0 of 0 units" in done.stdout
    assert set(written(done)) == FREE_FILES
    assert generated_since(emulator, before) == []


VOLATILE = {"timestamp", "metrics", "recorded"}
"""What differs between two answers of live fal too: log times, inference time, the date."""


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def test_record_again_is_idempotent(exports: str, tmp_path: Path) -> None:
    """A second run replaces the first file by file: the same names, no copies, no temporary
    files, and the same content wherever the emulator answered the same."""
    first = record(exports, tmp_path, budget=1)
    assert first.returncode == 0, first.stderr
    snapshot = {p.stem: stable(json.loads(p.read_text())) for p in tmp_path.iterdir()}
    second = record(exports, tmp_path, budget=1)
    assert second.returncode == 0, second.stderr
    names_1, names_2 = set(written(first)), set(written(second))
    assert FREE_FILES | {"t2v-submit", "t2v-result", "cancel-completed"} <= names_1 & names_2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{name}.json" for name in names_1 | names_2
    )
    for name in names_1 & names_2:
        assert stable(json.loads((tmp_path / f"{name}.json").read_text())) == snapshot[name], name


def test_an_interrupted_recording_keeps_only_complete_files(
    emulator: ServeProcess, exports: str, tmp_path: Path
) -> None:
    """The generation's result connection is dropped: what came before is saved whole, the
    result is absent, and the failure is one line."""
    scenarios = f"{emulator.url}/_mock/scenarios"
    rule = {"name": "drop-fox-result", "drop": True}
    rule["match"] = {"route": "result", "input": {"prompt": "^a red fox"}}
    httpx.post(scenarios, json=rule).raise_for_status()
    try:
        done = record(exports, tmp_path, budget=1)
    finally:
        httpx.delete(f"{scenarios}/drop-fox-result").raise_for_status()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "queue.fal.run" in lines[0], done.stderr
    names = set(written(done))
    assert FREE_FILES | {"t2v-submit"} <= names and "t2v-result" not in names, names
    assert sorted(p.stem for p in tmp_path.iterdir()) == sorted(names)  # no temporary files
    for name in names:
        assert_clean(tmp_path / f"{name}.json", {KEY})


def test_a_connection_lost_mid_suite_stops_the_run_in_one_line(
    emulator: ServeProcess, exports: str
) -> None:
    """After the first call went through, a dropped connection ends the run: one line, the
    budget spent so far, no later case (each would fail the same way, some at a price)."""
    scenarios = f"{emulator.url}/_mock/scenarios"
    rule = {"name": "drop-cancel", "drop": True, "match": {"route": "cancel"}}
    httpx.post(scenarios, json=rule).raise_for_status()
    try:
        done = run(
            exports, "check", "--target", "live", "--case", "request_errors", "--case", "spec_drift"
        )
    finally:
        httpx.delete(f"{scenarios}/drop-cancel").raise_for_status()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "queue.fal.run" in lines[0] and "check" in lines[0], lines
    assert "live budget: spent 0 of 2 units" in done.stdout
    assert "spec_drift" not in done.stdout


PYTEST_SUITE = f"{sys.executable} -m pytest -p no:cacheprovider -p no:xdist"


@pytest.mark.parametrize("key", [KEY, "someone-else:not-the-key"], ids=["key", "wrong key"])
def test_the_pytest_suite_rehearses_too(exports: str, tmp_path: Path, key: str) -> None:
    """The same live target under pytest (``--ray2-target=live``): the free cases pass through
    env mode; a refused key fails every case with the one line, not a traceback."""
    args = [
        "--pyargs",
        "contracts.pytest.suite_tests",
        "--ray2-target=live",
        "--ray2-live-budget=0",
    ]
    args += ["-k", "request_errors or spec_drift", "--rootdir", str(tmp_path)]
    done = run(exports, *args, env={"FAL_KEY": key}, python=PYTEST_SUITE)
    summary = done.stdout.strip().splitlines()[-1]
    if key == KEY:
        assert done.returncode == 0 and "2 passed" in summary, done.stdout
    else:
        assert done.returncode == 1 and "2 errors" in summary, done.stdout
        assert "queue.fal.run refused the key (401" in done.stdout
        assert "Traceback" not in done.stdout and "httpx" not in done.stdout


# -- spec drift --------------------------------------------------------------------------------

CHANGED_CONTRACT = """
import copy, sys
import contracts.live.drift as drift
original = drift.load_schema
def changed(name):
    schema = copy.deepcopy(original(name))
    if name == "ray-2.input.json":
        schema["properties"]["aspect_ratio"]["enum"].append("1:1")
    return schema
drift.load_schema = changed
from mockserver.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_spec_drift_fires_when_the_served_document_differs(exports: str) -> None:
    """The served document against a contract with one more enum value: the comparison that
    runs live fails, with the diff, through the same proxy, TLS and fal.ai route."""
    agreed = run(exports, "check", "--target", "live", "--case", "spec_drift")
    assert agreed.returncode == 0 and "PASSED   spec_drift" in agreed.stdout, agreed.stdout
    python = f"{sys.executable} -c '{CHANGED_CONTRACT}'"
    done = run(exports, "check", "--target", "live", "--case", "spec_drift", python=python)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED   spec_drift" in done.stdout
    assert "--- fal-ai/luma-dream-machine/ray-2 input (contracts/schemas)" in done.stdout
    assert re.search(r'^ +-        "1:1"$', done.stdout, re.M), done.stdout
    assert "image-to-video input" not in done.stdout


# -- network failures: one line, the host, what to check, exit 2 -------------------------------


@contextlib.contextmanager
def listener(answer: bytes | None) -> Iterator[int]:
    """A local TCP server: answers each connection with ``answer`` once it has read a request
    head, or never answers at all (None); yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            if answer is not None:
                connection.recv(65536)
                connection.sendall(answer)
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        server.close()
        for connection in held:
            connection.close()
        thread.join(5)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


NO_DNS = (
    f"{sys.executable} -c '"
    "import socket, sys\n"
    "def no_dns(*args, **kwargs):\n"
    '    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")\n'
    "socket.getaddrinfo = no_dns\n"
    "from mockserver.cli import main\n"
    "sys.exit(main(sys.argv[1:]))'"
)
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
FAILURES = {
    # name: (how, expected words in the one line)
    "refused proxy": ("closed", ["proxy http://127.0.0.1:", "queue.fal.run", "HTTPS_PROXY"]),
    "proxy says 403": ("forbidden", ["403 Forbidden", "queue.fal.run", "check HTTPS_PROXY"]),
    "DNS failure": ("no-dns", ["cannot resolve queue.fal.run", "check your network"]),
    "TLS failure": ("no-ca", ["TLS with queue.fal.run", "certificate verify failed", "SSL_CERT"]),
    "timeout": ("silent", ["queue.fal.run did not answer in time", "--timeout"]),
    "wrong key": ("wrong-key", ["queue.fal.run refused the key (401", "check FAL_KEY"]),
}


@pytest.mark.parametrize(
    ("failure", "command"),
    [*((failure, "check") for failure in FAILURES), ("wrong key", "record"), ("timeout", "record")],
)
def test_a_network_failure_is_one_line_and_exit_2(
    exports: str, tmp_path: Path, failure: str, command: str
) -> None:
    """Every listed failure on ``check``; on ``record`` (the same first call) two of them."""
    how, words = FAILURES[failure]
    out = tmp_path / "recorded"
    args = ["check", "--target", "live"] if command == "check" else ["record", "--out", str(out)]
    args += ["--timeout", "1"]
    env: dict[str, str] = {}
    after_env, python = "", RAY2
    with contextlib.ExitStack() as stack:
        if how == "closed":
            after_env = f"export HTTPS_PROXY=http://127.0.0.1:{closed_port()}"
        elif how in ("forbidden", "silent"):
            port = stack.enter_context(listener(FORBIDDEN if how == "forbidden" else None))
            after_env = f"export HTTPS_PROXY=http://127.0.0.1:{port}"
        elif how == "no-dns":
            after_env, python = "unset HTTPS_PROXY", NO_DNS
        elif how == "no-ca":
            after_env = "unset SSL_CERT_FILE"
        else:
            env["FAL_KEY"] = "someone-else:not-the-key"
        done = run(exports, *args, env=env, after_env=after_env, python=python)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists(), "nothing is recorded when fal cannot be reached"
