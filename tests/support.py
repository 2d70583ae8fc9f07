"""Helpers the tests share (fixtures stay in conftest.py): the key, configs, routing the
unmodified client, waiting with a deadline, and the server's error log."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import fal_client
import fal_client.client as fal_client_module
import pytest

from mockserver.config import Config
from mockserver.serving.server import ServerInfo
from mockserver.stores import MemoryStore, RequestStore, SharedSqliteStore, SqliteStore

STORE_KINDS = ("memory", "sqlite", "sqlite-shared", "redis")
"""Every request store: one process's SQLite file, the one ``serve --workers N`` shares, and
the Redis that replicas share (``redis_url`` names a server: the ``redis_server`` fixture's)."""


def make_store(kind: str, path: Path, redis_url: str | None = None) -> RequestStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "redis":
        from mockserver.shared.connection import Keys, SharedRedis
        from mockserver.shared.store import RedisStore
        from tests.redis_server import unique_prefix

        assert redis_url is not None, "a Redis store needs the redis_server fixture's URL"
        return RedisStore(SharedRedis(redis_url, keys=Keys(unique_prefix())))
    return SharedSqliteStore(path) if kind == "sqlite-shared" else SqliteStore(path)


def store_fixture(request: pytest.FixtureRequest, path: Path) -> RequestStore:
    """The parametrised ``store`` fixtures' body: a Redis store starts the session's server."""
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    return make_store(request.param, path, url)


TEST_KEY = "test-key-id:test-key-secret"
SHARED_MEDIA: list[Path] = []
"""The session's content-addressed video cache (conftest fills it): a clip renders once."""
REPO_ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = REPO_ROOT / "tests" / "fixtures" / "evidence"
"""Live answers as captured (exact bytes), the expected values of the tests that cite them."""
CDN_FILE_PATH = re.compile(r"/files/b/[0-9a-f]{8}/[A-Za-z0-9_-]{21}_(?P<name>[^/?]+)$")
"""fal's CDN file path, by the rule a live upload shows (``/files/b/0aac27e0/`` then a
21-character id, ``_`` and the file name: ``hzumoERxCN0OZTqbpMb2L_line.wav``)."""
T = TypeVar("T")

# Ray 2's output geometry as documented (docs/evidence.md, mindstudio-ray2), computed here from the
# rule itself, so a test never takes the expected size from the emulator's own table.
SHORT_SIDE = {"540p": 540, "720p": 720, "1080p": 1080}
FRAMES = {"5s": 120, "9s": 216}
"""24 fps: 5 s and 9 s clips."""


def expected_size(aspect: str, resolution: str) -> tuple[int, int]:
    """Short side from the resolution, long side = short x ratio, rounded to an even number."""
    a, b = (int(x) for x in aspect.split(":"))
    short = SHORT_SIDE[resolution]
    long = int(round(short * Fraction(max(a, b), min(a, b)) / 2)) * 2
    return (long, short) if a >= b else (short, long)


def expected_video(
    endpoint: str, arguments: dict[str, Any], source: tuple[int, int, float] | None = None
) -> tuple[int, int, int]:
    """(width, height, frames) of a family member's output, from the rules the ledger states,
    written here again so no test reads the emulator's tables: generators by the documented
    sizes; reframe keeps the source's duration at the requested aspect ratio, in the resolution
    class whose short side is nearest the source's (ties to the smaller) [inferred]; modify
    keeps the source's size rounded down to even numbers and its duration [inferred]."""
    if endpoint.endswith(("/reframe", "/modify")):
        assert source is not None, "reframe and modify start from an input video"
        width, height, seconds = source
        frames = max(1, round(seconds * 24))
        if endpoint.endswith("/modify"):
            return max(2, width // 2 * 2), max(2, height // 2 * 2), frames
        short = min(width, height)
        resolution = min(SHORT_SIDE, key=lambda r: (abs(SHORT_SIDE[r] - short), SHORT_SIDE[r]))
        aspect = arguments["aspect_ratio"]
        if aspect == "1:1":
            return SHORT_SIDE[resolution], SHORT_SIDE[resolution], frames
        return (*expected_size(aspect, resolution), frames)
    width, height = expected_size(
        arguments.get("aspect_ratio", "16:9"), arguments.get("resolution", "540p")
    )
    return width, height, FRAMES[arguments.get("duration", "5s")]


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    settings: dict[str, Any] = dict(
        port=0,
        tls_port=0,
        state_dir=tmp_path / "state",
        store="memory",
        timing="instant",
        media_cache_dir=SHARED_MEDIA[0] if SHARED_MEDIA else None,
    )
    settings.update(overrides)
    return Config(**settings)


def route_fal_client(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the unmodified client's URL globals (read at call time) at ``url``."""
    monkeypatch.setattr(fal_client_module, "RUN_URL_FORMAT", f"{url}/run/")
    monkeypatch.setattr(fal_client_module, "QUEUE_URL_FORMAT", f"{url}/")
    monkeypatch.setenv("FAL_KEY", TEST_KEY)


def route_storage(monkeypatch: pytest.MonkeyPatch, url: str) -> fal_client.SyncClient:
    """fal_client with its storage too (REST and CDN URLs) on ``url``: ``upload_file`` lands
    in the emulator."""
    route_fal_client(monkeypatch, url)
    monkeypatch.setattr(fal_client_module, "REST_URL", url)
    monkeypatch.setattr(fal_client_module, "CDN_URL", url)
    return fal_client.SyncClient(key=TEST_KEY)


def wait_until(
    probe: Callable[[], T], timeout: float = 30.0, every: float = 0.02, what: str = "it"
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds (a
    loaded 2-core CI machine is slow, so deadlines are generous and never a measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last: {value!r})")
        time.sleep(every)


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        if not any(seen is record for seen in self.records):  # seen by both loggers
            self.records.append(record)


SERVER_LOGGERS = ("uvicorn", "")
"""uvicorn's loggers do not propagate to the root logger (pytest's caplog sees nothing from
them): both are watched; the emulator's own loggers propagate to the root."""


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR record the in-process server logs meanwhile (tracebacks included)."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def markdown_rows(text: str, columns: int, header: str) -> list[list[str]]:
    """The body rows of the Markdown tables in ``text`` that have ``columns`` cells and whose
    header's first cell is ``header`` (docs that tests hold to their word)."""
    rows: list[list[str]] = []
    table_header: list[str] | None = None  # the current table's header row
    for line in text.splitlines():
        if not line.startswith("|"):
            table_header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if table_header is None:
            table_header = cells
        elif cells[0] != "---" and len(cells) == columns and table_header[0] == header:
            rows.append(cells)
    return rows


TEST_REFERENCE = re.compile(r"`((?:tests|contracts)/[\w/]+\.py)(?:::(\w+))?`")
"""A test named in a doc: `tests/x.py` or `tests/x.py::test_name`."""


def assert_names_existing_tests(row: str, cell: str) -> None:
    """A doc row's tests cell names at least one test, and every one it names exists."""
    references = TEST_REFERENCE.findall(cell)
    assert references, f"{row!r} names no test"
    for path, name in references:
        source = REPO_ROOT / path
        assert source.is_file(), f"{row!r}: no file {path}"
        if name:
            assert re.search(rf"^(async )?def {name}\b", source.read_text(), re.M), (
                f"{row!r}: no {name} in {path}"
            )


EVIDENCE_DIR = REPO_ROOT / "tests" / "fixtures" / "evidence"
"""Captured bodies, byte for byte as captured: a test's expected value when the evidence has
bytes (the source of each is in the ledger's evidence cell)."""


def evidence(name: str) -> bytes:
    return (EVIDENCE_DIR / name).read_bytes()


def fal_js_153_payload_error() -> str:
    """``payload_error`` of the live webhook quoted in fal-js issue #153 (a Node console dump:
    single-quoted strings, no escapes)."""
    dump = evidence("fal-js-153.txt").decode()
    found = re.search(r"^\s*payload_error: '([^']*)',$", dump, re.M)
    assert found, "fal-js-153.txt has no payload_error line"
    return found[1]


def written_like_the_webhook_capture(body: bytes) -> bool:
    """The form of fal's signed webhook bytes: ``json.dumps`` with sorted keys and its default
    ``", "`` / ``": "`` separators. The rule is checked against the capture itself first."""
    capture = evidence("webhook-capture.json")
    assert json.dumps(json.loads(capture), sort_keys=True).encode() == capture
    return json.dumps(json.loads(body), sort_keys=True).encode() == body


@contextmanager
def serve_process(
    state: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerInfo]:
    """``ray2-mock serve`` as a subprocess on free ports (instant timing), stopped by SIGTERM,
    which it must survive cleanly; ``env`` adds to this process's environment."""
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    command += ["--timing", "instant", "--state-dir", str(state), "--log-level", "warning"]
    process = subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while (info := ServerInfo.read(state)) is None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        yield info
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0, "serve did not stop cleanly on SIGTERM"


def env_exports(state: Path, *args: str) -> str:
    """What ``ray2-mock env`` prints for the emulator of ``state``."""
    command = [sys.executable, "-m", "mockserver.cli", "env", "--state-dir", str(state), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def unrouted_env(**extra: str) -> dict[str, str]:
    """This process's environment without fal keys, proxies or CA overrides: a fresh shell."""
    removed = ("FAL_", "HTTPS_PROXY", "HTTP_PROXY", "SSL_CERT", "NODE_OPTIONS", "PYTEST_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(removed)}, **extra}


def machine_address() -> str | None:
    """This machine's own non-loopback IPv4 address, if it has one (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a route lookup only
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address
