"""Run the real ``@fal-ai/client`` under node (tests/js/drive_client.mjs) and read what it saw.

``tests/js/package.json`` pins the client; ``make test`` installs it into the git-ignored
``tests/js/node_modules`` with ``npm ci``, and ``ensure_js_client`` does the same when a test
module runs on its own. Only a machine without node skips these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, TypeVar

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "drive_client.mjs"
CLIENT_VERSION = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["@fal-ai/client"]
NODE = shutil.which("node")
F = TypeVar("F")

NODE_MISSING = "[required tool] node is not installed: the @fal-ai/client tests need node >= 18"
needs_node = [pytest.mark.node, pytest.mark.skipif(NODE is None, reason=NODE_MISSING)]
"""A module's ``pytestmark``: node tests, skipped without node (a failure under CI=true)."""


def node_test(function: F) -> F:
    """``needs_node`` for one test of a module that also has tests without node."""
    for mark in needs_node:
        function = mark(function)
    return function


def ensure_js_client() -> None:
    """Install the pinned client once (make test does the same before pytest starts)."""
    installed = JS_DIR / "node_modules" / "@fal-ai" / "client" / "package.json"
    if not installed.exists():
        npm = shutil.which("npm")
        assert npm, "node is installed but npm is not: cannot install @fal-ai/client"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            check=True,
            timeout=600,
        )
    assert json.loads(installed.read_text())["version"] == CLIENT_VERSION


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without fal or node settings that would change the run."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "NODE_"))}
    return {**base, **extra}


def drive(proxy_url: str, *scenarios: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run scenarios in one node process: {scenario: {"ok": what it saw} | {"error": why}}."""
    completed = subprocess.run(
        [NODE or "node", str(SCRIPT), proxy_url, *scenarios],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def ok(outcomes: dict[str, Any], scenario: str) -> dict[str, Any]:
    outcome = outcomes[scenario]
    assert "ok" in outcome, f"{scenario} failed in node: {outcome['error']}"
    return outcome["ok"]
