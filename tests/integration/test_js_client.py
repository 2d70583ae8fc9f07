"""The real, unmodified ``@fal-ai/client`` (npm, under node) through the emulator's fal proxy.

``tests/js/package.json`` pins the client; ``make test`` (or the first run here) installs it into
the git-ignored ``tests/js/node_modules`` with ``npm ci``. Only a machine without node skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.background import BackgroundEmulator
from mockserver.fal_proxy import PROXY_PATH
from tests.app_routes import needs_route
from tests.conftest import make_config
from tests.mp4probe import probe

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "drive_client.mjs"
CLIENT_VERSION = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["@fal-ai/client"]
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="node is not installed: the @fal-ai/client tests need node >= 18"
)


def ensure_js_client() -> None:
    """Install the pinned client once (make test does the same before pytest starts)."""
    installed = JS_DIR / "node_modules" / "@fal-ai" / "client" / "package.json"
    if not installed.exists():
        npm = shutil.which("npm")
        assert npm, "node is installed but npm is not: cannot install @fal-ai/client"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=600)
    assert json.loads(installed.read_text())["version"] == CLIENT_VERSION


SCENARIOS = ("subscribe", "queue", "stream", "run", "invalid")


def drive(proxy_url: str, *scenarios: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run scenarios of drive_client.mjs in one node process: {scenario: {ok|error: ...}}."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "NODE_"))}
    completed = subprocess.run(
        [NODE or "node", str(SCRIPT), proxy_url, *scenarios],
        env={**base_env, **(env or {})},
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


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    ensure_js_client()
    with BackgroundEmulator(make_config(tmp_path_factory.mktemp("js"))) as running:
        yield running


@pytest.fixture(scope="module")
def outcomes(emulator: BackgroundEmulator) -> dict[str, Any]:
    """Every scenario, run once and at the same time (one node start for the module)."""
    return drive(emulator.url + PROXY_PATH, *SCENARIOS)


def test_subscribe_with_logs(
    outcomes: dict[str, Any], emulator: BackgroundEmulator, tmp_path: Path
) -> None:
    seen = ok(outcomes, "subscribe")
    assert seen["requestId"]  # read from x-fal-request-id, through the proxy
    assert seen["statuses"][-1] == "COMPLETED" and "IN_PROGRESS" in seen["statuses"]
    assert any(m.startswith("Starting Ray 2 text-to-video") for m in seen["messages"])
    video = seen["video"]
    assert video["url"].startswith(emulator.url + "/files/")  # fetchable without the proxy
    assert seen["fetched"] == {"status": 200, "type": "video/mp4", "bytes": video["file_size"]}
    path = tmp_path / "js.mp4"
    path.write_bytes(httpx.get(video["url"]).content)
    facts = probe(path, decode=False)
    assert (facts.width, facts.height) == (540, 960)  # the 9:16 the script asked for


def test_queue_submit_status_result(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "queue")
    assert seen["statuses"][-1] == "COMPLETED"
    assert seen["resultRequestId"] == seen["requestId"]
    assert seen["video"]["content_type"] == "video/mp4"


def test_stream_status(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "stream")
    assert seen["events"][-1] == "COMPLETED" and seen["done"] == "COMPLETED"


def test_run(outcomes: dict[str, Any]) -> None:
    assert ok(outcomes, "run")["video"]["url"].endswith(".mp4")


def test_validation_errors_reach_the_client_as_fal_sends_them(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "invalid")
    assert seen["raised"] and seen["name"] == "ValidationError" and seen["status"] == 422
    assert seen["body"]["detail"][0]["loc"] == ["body", "duration"]


@needs_route("/storage/upload/initiate", "storage, issue 7")
def test_storage_upload_then_image_to_video(emulator: BackgroundEmulator) -> None:
    seen = ok(drive(emulator.url + PROXY_PATH, "upload"), "upload")
    assert seen["sameBytes"], "the uploaded file did not come back byte for byte"
    assert seen["video"]["url"].startswith(emulator.url)
