"""Every Python snippet on the site runs as its fence says (tests/docs/snippets.py).

Programs run under ``ray2-mock env``'s exports against a ``ray2-mock serve`` of the test's own,
pytest files run in a fresh pytest with the installed plugin, commands run in a shell with
the installation's scripts on PATH: what a user does after copying the snippet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.serving.server import ServerInfo
from tests.docs.snippets import Snippet, snippets
from tests.support import env_exports, serve_process, unrouted_env

SNIPPETS = snippets()
RUNNABLE = [s for s in SNIPPETS if s.kind != "conftest"]
SCRIPTS = Path(sys.executable).parent


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, Path]]:
    state = tmp_path_factory.mktemp("docs-served") / "state"
    with serve_process(state) as info:
        yield info, state


def shell_env() -> dict[str, str]:
    return unrouted_env(PATH=f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}")


def run_program(snippet: Snippet, workdir: Path, state: Path) -> subprocess.CompletedProcess[str]:
    (workdir / snippet.title).write_text(snippet.source)
    script = f'{env_exports(state)}\nexec "{sys.executable}" "{snippet.title}"'
    return subprocess.run(
        ["sh", "-c", script],
        cwd=workdir,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_pytest(snippet: Snippet, workdir: Path) -> subprocess.CompletedProcess[str]:
    for helper in SNIPPETS:
        if helper.page == snippet.page and helper.kind == "conftest":
            (workdir / helper.title).write_text(helper.source)
    (workdir / snippet.title).write_text(snippet.source)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", snippet.title]
    return subprocess.run(
        command, cwd=workdir, env=shell_env(), capture_output=True, text=True, timeout=300
    )


def run_command(snippet: Snippet, workdir: Path) -> subprocess.CompletedProcess[str]:
    assert snippet.command is not None
    (workdir / snippet.title).write_text(snippet.source)
    return subprocess.run(
        ["sh", "-c", snippet.command],
        cwd=workdir,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_has_snippets_of_every_kind() -> None:
    kinds = {s.kind for s in SNIPPETS}
    assert kinds == {"program", "pytest", "conftest", "command"}, kinds
    for conftest in (s for s in SNIPPETS if s.kind == "conftest"):
        assert any(s.page == conftest.page and s.kind == "pytest" for s in SNIPPETS), conftest.name


@pytest.mark.parametrize("snippet", RUNNABLE, ids=[s.name for s in RUNNABLE])
def test_snippet_runs(snippet: Snippet, served: tuple[ServerInfo, Path], tmp_path: Path) -> None:
    if snippet.kind == "pytest":
        done = run_pytest(snippet, tmp_path)
    elif snippet.kind == "command":
        done = run_command(snippet, tmp_path)
    else:
        done = run_program(snippet, tmp_path, served[1])
    assert done.returncode == 0, f"{snippet.name}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
