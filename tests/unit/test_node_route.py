"""The node preload (mockserver/serving/node_route.cjs) as node itself loads it from the exports.

What it does to requests is tested over real sockets in tests/integration/test_env_routing.py;
here: that node parses NODE_OPTIONS the way `ray2-mock env` writes it (an awkward path, a user's
own NODE_OPTIONS kept), that it routes exactly HOST_ROLES' hosts, and that it stays inert
without a target.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mockserver.cli import NODE_ROUTE, env_exports, render_exports
from mockserver.fal.hosts import HOST_ROLES
from mockserver.serving.server import ServerInfo
from tests.node_client import NODE, clean_env, needs_node

pytestmark = needs_node

INFO = ServerInfo("127.0.0.1", 8765, 8766, 8767, "/nonexistent/ca.pem")
SHOW = """console.log(JSON.stringify({
  route: globalThis[Symbol.for("ray2-mock.node-route")] ?? null,
  theirs: globalThis.theirs ?? null,
  noProxy: process.env.NO_PROXY ?? null,
  fetchPatched: String(globalThis.fetch).includes("falHost"),
}))"""


def node_under_exports(exports: str, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        ["sh", "-c", f'{exports}\nexec "{NODE}" -e "$0"', SHOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_node_loads_the_preload_from_an_awkward_path_and_keeps_its_own_options(
    tmp_path: Path,
) -> None:
    """Spaces, quotes, a backslash and a `$` in the path survive sh and node's NODE_OPTIONS
    parser; a NODE_OPTIONS the user had still applies; the routed hosts are HOST_ROLES'."""
    awkward = tmp_path / 'it\'s a "dir" $HOME\\x'
    awkward.mkdir()
    route = awkward / "node_route.cjs"
    shutil.copy(NODE_ROUTE, route)
    theirs = tmp_path / "theirs.cjs"
    theirs.write_text("globalThis.theirs = 'loaded';\n")
    exports = render_exports(env_exports(INFO, "proxy", node_route=route), "sh")
    env = clean_env(NODE_OPTIONS=f"--require={theirs}", NO_PROXY="corp.example")
    seen = node_under_exports(exports, env)
    assert seen["route"] == {"target": "https://127.0.0.1:8766", "hosts": list(HOST_ROLES)}
    assert seen["theirs"] == "loaded"
    assert seen["fetchPatched"] is True
    # HTTPS_PROXY is set: node >= 22.21 with NODE_USE_ENV_PROXY must reach the emulator directly.
    assert seen["noProxy"] == "corp.example,127.0.0.1:8766"


@pytest.mark.parametrize("target", [None, "http://127.0.0.1:8766"])
def test_preload_is_inert_without_an_https_target(target: str | None) -> None:
    """NODE_OPTIONS left over in a shell whose RAY2_MOCK_TLS_URL is gone changes nothing."""
    env = clean_env(NODE_OPTIONS=f'--require="{NODE_ROUTE}"')
    if target:
        env["RAY2_MOCK_TLS_URL"] = target
    seen = node_under_exports("", env)
    assert seen["route"] is None and seen["fetchPatched"] is False
