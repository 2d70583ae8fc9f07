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

from mockserver.serving.browser_proxy import PROXY_PATH
from mockserver.serving.server import ServerInfo
from tests.node_client import NODE, SCRIPT, clean_env, ensure_js_client, needs_node, ok

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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, Path]]:
    state = tmp_path_factory.mktemp("served") / "state"
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
        assert video["url"].startswith("https://v3b.fal.media/files/b/")  # fal's current CDN
    else:
        assert video["url"].startswith(f"https://127.0.0.1:{info.tls_port}/files/")
    assert seen["updates"] and seen["updates"][-1] == "Completed"
    assert seen["ran"]["video"]["url"].endswith(".mp4")


def env_output(state: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "env", "--state-dir", str(state), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


OTHER_HTTPS_CALL = """
import httpx
try:
    httpx.get("https://pypi.org/simple/", timeout=10)
except httpx.ProxyError as exc:
    print(exc)
"""


def test_other_https_calls_of_a_routed_process_are_refused(
    served: tuple[ServerInfo, Path],
) -> None:
    """The side effect the README warns about: with HTTPS_PROXY set, non-fal hosts get a 403
    from the emulator's proxy, which never connects anywhere else."""
    _, state = served
    shell = f'{env_output(state)}\nexec {sys.executable} -c "$0"'
    completed = subprocess.run(
        ["sh", "-c", shell, OTHER_HTTPS_CALL],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "403" in completed.stdout, completed.stdout + completed.stderr


@needs_node
def test_node_client_over_https_proxy_url_trusts_the_ca_from_env(
    served: tuple[ServerInfo, Path],
) -> None:
    """node's fetch ignores HTTPS_PROXY; the JS client reaches the emulator through proxyUrl on
    the TLS listener, trusted through NODE_EXTRA_CA_CERTS exactly as `ray2-mock env` sets it."""
    ensure_js_client()
    info, state = served
    proxy_url = f"https://127.0.0.1:{info.tls_port}{PROXY_PATH}"
    command = f'{env_output(state)}\nexec "{NODE}" "$0" "$1" subscribe'
    run = ["sh", "-c", command, str(SCRIPT), proxy_url]
    trusted = subprocess.run(run, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert trusted.returncode == 0, trusted.stderr
    seen = ok(json.loads(trusted.stdout), "subscribe")
    assert seen["video"]["url"].startswith(f"https://127.0.0.1:{info.tls_port}/files/")
    assert seen["fetched"]["status"] == 200 and seen["fetched"]["type"] == "video/mp4"
    # The same run without the CA: node refuses the emulator's certificate.
    untrusted = subprocess.run(
        [NODE or "node", str(SCRIPT), proxy_url, "run"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    error = json.loads(untrusted.stdout)["run"]["error"]
    assert "SELF_SIGNED_CERT_IN_CHAIN" in error, error


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
    exports = env_output(state)
    picture = tmp_path / "frame.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    shell = f'{exports}\nexec {sys.executable} -c "$0" "$1"'
    completed = subprocess.run(
        ["sh", "-c", shell, UPLOAD_SCRIPT, str(picture)],
        env=clean_env(),
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


OPENAPI_FETCH = """
import json, httpx
url = "https://fal.ai/api/openapi/queue/openapi.json"
doc = httpx.get(url, params={"endpoint_id": "fal-ai/luma-dream-machine/ray-2"}, timeout=30)
other = httpx.get("https://fal.ai/models/fal-ai/luma-dream-machine/ray-2", timeout=30)
unknown = httpx.get(url, params={"endpoint_id": "fal-ai/flux/dev"}, timeout=30)
print(json.dumps({"doc": [doc.status_code, doc.json()], "other": [other.status_code, other.json()],
                  "unknown": [unknown.status_code, unknown.json()]}))
"""


def test_fal_ai_answers_only_the_published_openapi(served: tuple[ServerInfo, Path]) -> None:
    """Rehearsal mode: fal's OpenAPI URL, unauthenticated as at fal, reaches the emulator
    through the proxy with fal.ai's own certificate name; nothing else on fal.ai is emulated."""
    _, state = served
    shell = f'{env_output(state)}\nunset FAL_KEY\nexec {sys.executable} -c "$0"'
    completed = subprocess.run(
        ["sh", "-c", shell, OPENAPI_FETCH],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    status, doc = seen["doc"]
    assert status == 200 and doc["openapi"] == "3.0.4"
    assert doc["info"]["x-fal-metadata"]["endpointId"] == "fal-ai/luma-dream-machine/ray-2"
    assert "LumaDreamMachineRay2Input" in doc["components"]["schemas"]
    for name in ("other", "unknown"):
        status, body = seen[name]
        assert status == 404 and body["error_type"] == "not_found", seen[name]
