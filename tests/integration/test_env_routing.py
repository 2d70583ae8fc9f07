"""`ray2-mock serve` as a subprocess; the unmodified fal_client routed by `ray2-mock env`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.server import ServerInfo

CLIENT_SCRIPT = """
import json, sys, httpx, fal_client
updates = []
result = fal_client.subscribe(sys.argv[1], arguments={"prompt": "routed"}, with_logs=True,
                              on_queue_update=lambda u: updates.append(type(u).__name__))
ran = fal_client.run(sys.argv[1], arguments={"prompt": "routed sync", "aspect_ratio": "4:3"})
video = httpx.get(result["video"]["url"], timeout=30)
print(json.dumps({"result": result, "ran": ran, "updates": updates,
                  "video_bytes": len(video.content), "video_type": video.headers["content-type"]}))
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerInfo, Path]]:
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockserver.cli",
            "serve",
            "--port",
            "0",
            "--timing",
            "instant",
            "--state-dir",
            str(state),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (info := ServerInfo.read(state)) is None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        yield info, state
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0, "serve did not stop cleanly on SIGTERM"


@pytest.mark.parametrize("mode", ["proxy", "direct"])
def test_unmodified_client_through_env_exports(served: tuple[ServerInfo, Path], mode: str) -> None:
    info, state = served
    exports = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "env", "--state-dir", str(state), "--mode", mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FAL_", "HTTPS_PROXY", "HTTP_PROXY", "SSL_CERT"))
    }
    shell = f'{exports}\nexec {sys.executable} -c "$0" fal-ai/luma-dream-machine/ray-2'
    completed = subprocess.run(
        ["sh", "-c", shell, CLIENT_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    video = seen["result"]["video"]
    assert seen["video_type"] == "video/mp4" and seen["video_bytes"] == video["file_size"]
    if mode == "proxy":
        assert video["url"].startswith("https://v3.fal.media/files/")
    else:
        assert video["url"].startswith(f"https://127.0.0.1:{info.tls_port}/files/")
    assert seen["updates"] and seen["updates"][-1] == "Completed"
    assert seen["ran"]["video"]["url"].endswith(".mp4")


UPLOAD_SCRIPT = """
import json, sys, httpx, fal_client
url = fal_client.upload_file(sys.argv[1], fallback_repository=[])
served = httpx.get(url, timeout=30)
jwks = httpx.get("https://rest.alpha.fal.ai/.well-known/jwks.json", timeout=30).json()
print(json.dumps({"url": url, "status": served.status_code, "type": served.headers["content-type"],
                  "same": served.content == open(sys.argv[1], "rb").read(), "jwks": jwks}))
"""


def test_upload_file_through_proxy_env(served: tuple[ServerInfo, Path], tmp_path: Path) -> None:
    """rest.fal.ai and v3.fal.media are hard-coded in fal_client: only the proxy reaches them."""
    info, state = served
    exports = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "env", "--state-dir", str(state)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    picture = tmp_path / "frame.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAL_", "HTTP", "SSL_CERT"))}
    shell = f'{exports}\nexec {sys.executable} -c "$0" "$1"'
    completed = subprocess.run(
        ["sh", "-c", shell, UPLOAD_SCRIPT, str(picture)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["url"].startswith("https://v3.fal.media/files/uploads/")
    assert seen["url"].endswith("/frame.png")
    assert (seen["status"], seen["type"], seen["same"]) == (200, "image/png", True)
    # A receiver with these exports verifies webhooks against fal's own JWKS URL.
    local_jwks = httpx.get(f"{info.url}/_mock/webhooks/jwks.json").json()
    assert seen["jwks"] == local_jwks and local_jwks["keys"][0]["crv"] == "Ed25519"
