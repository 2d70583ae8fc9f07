"""The getting-started page, done as it says: `make serve`, then its shell lines in a second
shell in the same directory, running its program written for live fal.

The directory stands for a checkout: the repository's Makefile, pyproject.toml and installed
.venv, and nothing else, so the emulator's state (``.ray2-mock/``) is the test's own. Only
``ARGS`` is added to ``make serve``, for free ports.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest

from mockserver.serving.server import ServerInfo
from tests.docs.snippets import snippets
from tests.support import REPO_ROOT, unrouted_env

PAGE = REPO_ROOT / "docs" / "getting-started.md"
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)


def shell_blocks() -> list[str]:
    return SHELL_BLOCK.findall(PAGE.read_text(encoding="utf-8"))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    stamp = REPO_ROOT / ".venv" / ".installed"
    assert stamp.exists(), "run `make test` (or `make serve`) once: it installs .venv"
    if stamp.stat().st_mtime < (REPO_ROOT / "pyproject.toml").stat().st_mtime:
        pytest.fail("pyproject.toml is newer than .venv: run `make test` to reinstall first")
    for name in ("Makefile", "pyproject.toml", ".venv"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    return tmp_path


@pytest.fixture
def make_serve(checkout: Path) -> Iterator[subprocess.Popen[str]]:
    [serve_line] = [line for line in shell_blocks()[0].splitlines() if "make serve" in line]
    command = serve_line.split("#")[0].strip() + " ARGS='--port 0 --timing instant'"
    process = subprocess.Popen(
        ["sh", "-c", command],
        cwd=checkout,
        env=unrouted_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make and its emulator: one group, stopped together
    )
    try:
        deadline = time.monotonic() + 60
        while ServerInfo.read(checkout / ".ray2-mock") is None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "make serve did not start the emulator"
            time.sleep(0.1)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_the_pages_commands_make_the_first_video(
    checkout: Path, make_serve: subprocess.Popen[str]
) -> None:
    [program] = [s for s in snippets() if s.page == PAGE and s.kind == "program"]
    (checkout / program.title).write_text(program.source)
    second_shell = shell_blocks()[1]
    assert f"python {program.title}" in second_shell
    done = subprocess.run(
        ["sh", "-ec", second_shell],
        cwd=checkout,
        env=unrouted_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"https://v3b\.fal\.media/files/b/[0-9a-f]{8}/\S+_output\.mp4", done.stdout)
    # What the page promises: 1280x720, 24 fps, 5 s of H.264 (fal's 720p at 16:9, 5 s default).
    with av.open(str(checkout / "fox.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        assert stream.average_rate == Fraction(24)
        assert stream.frames == 120
