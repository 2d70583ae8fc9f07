"""`ray2-mock serve` as a subprocess; the unmodified fal_client routed by `ray2-mock env`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.serving.browser_proxy import PROXY_PATH
from mockserver.serving.server import ServerInfo
from tests.node_client import JS_DIR, NODE, NODE_MISSING, SCRIPT, clean_env, ensure_js_client, ok
from tests.support import CDN_FILE_PATH, env_exports, serve_process

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
    with serve_process(state) as info:
        yield info, state


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
    completed, _ = run_routed(state, sys.executable, "-c", OTHER_HTTPS_CALL)
    assert "403" in completed.stdout, completed.stdout + completed.stderr


@pytest.mark.node
@pytest.mark.skipif(NODE is None, reason=NODE_MISSING)
def test_node_client_over_https_proxy_url_trusts_the_ca_from_env(
    served: tuple[ServerInfo, Path],
) -> None:
    """node's fetch ignores HTTPS_PROXY; the JS client reaches the emulator through proxyUrl on
    the TLS listener, trusted through NODE_EXTRA_CA_CERTS exactly as `ray2-mock env` sets it."""
    ensure_js_client()
    info, state = served
    proxy_url = f"https://127.0.0.1:{info.tls_port}{PROXY_PATH}"
    command = f'{env_exports(state)}\nexec "{NODE}" "$0" "$1" subscribe'
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
    exports = env_exports(state)
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
    assert seen["url"].startswith("https://v3b.fal.media/files/b/")  # fal's file host and shape
    assert CDN_FILE_PATH.search(seen["url"])["name"] == "frame.png"
    assert (seen["status"], seen["type"], seen["same"]) == (200, "image/png", True)
    # A receiver with these exports verifies webhooks against fal's own JWKS URL.
    local_jwks = httpx.get(f"{info.url}/_mock/webhooks/jwks.json").json()
    assert seen["jwks"] == local_jwks and local_jwks["keys"][0]["crv"] == "Ed25519"


# What routes a process besides `ray2-mock env`'s exports: none of it may leak into a routed run.
ROUTING_VARIABLES = ("FAL_", "HTTPS_PROXY", "HTTP_PROXY", "SSL_CERT", "NODE_", "RAY2_MOCK_")


def run_routed(
    state: Path, *command: str, mode: str = "proxy", journal_of: ServerInfo | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``command`` in a shell whose only routing is what `ray2-mock env` printed; with
    ``journal_of``, also the hosts the emulator saw the run's requests arrive with."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ROUTING_VARIABLES)}
    shell = f'{env_exports(state, "--mode", mode)}\nexec "$@"'
    mark = _last_journal_id(journal_of) if journal_of else 0
    completed = subprocess.run(
        ["sh", "-c", shell, "sh", *command], env=env, capture_output=True, text=True, timeout=120
    )
    hosts: set[str] = set()
    if journal_of:
        entries = httpx.get(f"{journal_of.url}/_mock/journal", params={"since": mark}).json()
        hosts = {entry["host"] for entry in entries["entries"]}
    return completed, hosts


def _last_journal_id(info: ServerInfo) -> int:
    entries = httpx.get(f"{info.url}/_mock/journal", params={"limit": 1}).json()["entries"]
    return max((entry["id"] for entry in entries), default=0)


@pytest.mark.node
@pytest.mark.skipif(NODE is None, reason=NODE_MISSING)
def test_node_program_with_its_own_fal_config_through_env_exports(
    served: tuple[ServerInfo, Path],
) -> None:
    """@fal-ai/client configured by the program (credentials, no proxyUrl): upload, subscribe
    with logs, download with plain fetch. node's fetch ignores HTTPS_PROXY, so only the
    preload in NODE_OPTIONS can route it; every fal host keeps its name."""
    ensure_js_client()
    info, state = served
    completed, hosts = run_routed(
        state, NODE or "node", str(JS_DIR / "own_config.mjs"), journal_of=info
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["imageUrl"].startswith("https://v3b.fal.media/files/b/")
    assert CDN_FILE_PATH.search(seen["imageUrl"])
    assert seen["uploadedSame"] is True
    video = seen["video"]
    assert video["url"].startswith("https://v3b.fal.media/files/b/")
    assert seen["download"] == {"status": 200, "type": "video/mp4", "bytes": video["file_size"]}
    assert seen["statuses"][-1] == "COMPLETED" and seen["logs"]
    assert {"rest.fal.ai", "queue.fal.run", "v3b.fal.media"} <= hosts


@pytest.mark.node
@pytest.mark.skipif(NODE is None, reason=NODE_MISSING)
@pytest.mark.parametrize("mode", ["proxy", "direct"])
def test_node_raw_fetch_program_through_env_exports(
    served: tuple[ServerInfo, Path], mode: str
) -> None:
    """Raw fetch to queue.fal.run and fal.run, status by a Request object, the video by fetch
    and by node:https; a host that only looks like fal's is left to node (DNS fails)."""
    info, state = served
    completed, hosts = run_routed(
        state, NODE or "node", str(JS_DIR / "raw_fetch.mjs"), mode=mode, journal_of=info
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["submitStatus"] == 200
    assert seen["queued"]["status_url"].startswith("https://queue.fal.run/fal-ai/")
    assert seen["statuses"][-1] == "COMPLETED"
    video = seen["result"]["video"]
    assert video["url"].startswith("https://v3b.fal.media/files/b/")
    assert seen["ran"]["video"]["url"].startswith("https://v3b.fal.media/files/b/")
    assert seen["download"] == {"status": 200, "url": video["url"], "bytes": video["file_size"]}
    assert seen["https"] == {"status": 200, "bytes": video["file_size"]}
    assert seen["lookalike"] in ("ENOTFOUND", "EAI_AGAIN")
    assert {"queue.fal.run", "fal.run", "v3b.fal.media"} <= hosts


T2V = "fal-ai/luma-dream-machine/ray-2"
REQUESTS_SCRIPT = """
import json, sys, fal_client, requests
result = fal_client.subscribe(sys.argv[1], arguments={"prompt": "downloaded with requests"})
video = requests.get(result["video"]["url"], timeout=30)
print(json.dumps({"video": result["video"], "status": video.status_code,
                  "type": video.headers["content-type"], "bytes": len(video.content)}))
"""


@pytest.mark.parametrize("mode", ["proxy", "direct"])
def test_requests_download_of_an_output_url_through_env_exports(
    served: tuple[ServerInfo, Path], mode: str
) -> None:
    """requests ignores SSL_CERT_FILE (it reads REQUESTS_CA_BUNDLE) but honours HTTPS_PROXY."""
    _, state = served
    completed, _ = run_routed(state, sys.executable, "-c", REQUESTS_SCRIPT, T2V, mode=mode)
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert (seen["status"], seen["type"]) == (200, "video/mp4")
    assert seen["bytes"] == seen["video"]["file_size"]


CURL = shutil.which("curl")
CURL_SCRIPT = """
video=$("$1" -c 'import fal_client, sys
video = fal_client.subscribe(sys.argv[1], arguments={"prompt": "downloaded with curl"})["video"]
print(video["url"], video["file_size"])' "$2") || exit 1
echo "$video"
exec curl -sS -o "$3" -w '%{http_code} %{content_type} %{size_download}' "${video% *}"
"""


@pytest.mark.skipif(CURL is None, reason="curl is not installed: the curl download is unchecked")
def test_curl_download_of_an_output_url_through_env_exports(
    served: tuple[ServerInfo, Path], tmp_path: Path
) -> None:
    """curl reads CURL_CA_BUNDLE (not SSL_CERT_FILE) and HTTPS_PROXY."""
    _, state = served
    out = tmp_path / "video.mp4"
    command = ["sh", "-c", CURL_SCRIPT, "sh", sys.executable, T2V, str(out)]
    completed, _ = run_routed(state, *command)
    assert completed.returncode == 0, completed.stderr
    video, written = completed.stdout.splitlines()
    url, size = video.split()
    assert url.startswith("https://v3b.fal.media/files/b/")
    assert written == f"200 video/mp4 {size}" and out.stat().st_size == int(size)


# -- the first minutes: what `serve` prints, what `env` says when nothing runs -----------------

SCRIPT_DIR = Path(sys.executable).parent
CONSOLE_SCRIPT = SCRIPT_DIR / "ray2-mock"  # what `make serve` runs: .venv/bin/ray2-mock


def outside_the_venv() -> dict[str, str]:
    """A new shell of a user who never activated the venv: ray2-mock is not on PATH."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != str(SCRIPT_DIR))
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ROUTING_VARIABLES)}
    return {**env, "PATH": path}


def wait_for_line(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + 30
    while (found := re.search(pattern, log.read_text(), re.MULTILINE)) is None:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {pattern!r} in:\n{log.read_text()}"
        time.sleep(0.05)
    return found


def test_serve_prints_a_paste_able_env_command_and_each_listener_once(tmp_path: Path) -> None:
    """`make serve` runs .venv/bin/ray2-mock: the banner's command must work pasted into another
    shell, in another directory, without the venv on PATH. uvicorn's start and stop lines came
    once per listener; now the banner says once what runs where."""
    assert CONSOLE_SCRIPT.exists(), "the editable install creates the console script"
    (tmp_path / "repo").mkdir()
    (tmp_path / "elsewhere").mkdir()
    log = tmp_path / "serve.log"
    serve = [str(CONSOLE_SCRIPT), "serve", "--port", "0", "--timing", "instant"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            serve, cwd=tmp_path / "repo", env=outside_the_venv(), stdout=sink, stderr=sink
        )
    try:
        pasted = wait_for_line(log, r'^\s+(eval "\$\(.*\)")$', process)[1]
        info = ServerInfo.read(tmp_path / "repo" / ".ray2-mock")
        assert info is not None
        check = (
            f'{pasted}\nexec "{sys.executable}" -c "import os; print(os.environ[\'HTTPS_PROXY\'])"'
        )
        shell = subprocess.run(
            ["sh", "-c", check],
            cwd=tmp_path / "elsewhere",
            env=outside_the_venv(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.strip() == f"http://127.0.0.1:{info.proxy_port}"
        assert shell.stderr == ""  # no "no emulator answers" warning: it found this one
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    printed = log.read_text()
    for lifecycle in ("Uvicorn running on", "Started server process", "Shutting down"):
        assert lifecycle not in printed, printed
    assert printed.count(f"https://127.0.0.1:{info.tls_port}") == 1, printed
    assert printed.count(f"http://127.0.0.1:{info.proxy_port}") == 1, printed
    assert printed.splitlines()[-1] == "ray2-mock stopped"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_env_without_an_emulator_prints_the_command_that_starts_it(tmp_path: Path) -> None:
    """A stale server.json: `env` still prints its exports and, on stderr, the command that
    makes them right again. Run as printed, it starts an emulator right there."""
    state = tmp_path / "state"
    state.mkdir()
    port, tls_port, proxy_port = free_port(), free_port(), free_port()
    stale = ServerInfo("127.0.0.1", port, tls_port, proxy_port, str(state / "tls" / "ca.pem"))
    (state / "server.json").write_text(stale.to_json())
    env_command = [str(CONSOLE_SCRIPT), "env", "--state-dir", "state"]
    first = subprocess.run(
        env_command, cwd=tmp_path, env=outside_the_venv(), capture_output=True, text=True
    )
    assert first.returncode == 0 and f"HTTPS_PROXY=http://127.0.0.1:{proxy_port}" in first.stdout
    command = first.stderr.splitlines()[-1].strip()
    assert command.startswith(f"{CONSOLE_SCRIPT} serve "), first.stderr
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            shlex.split(command), cwd=tmp_path, env=outside_the_venv(), stdout=sink, stderr=sink
        )
    try:
        wait_for_line(log, r"^ray2-mock listening on", process)
        assert ServerInfo.read(state) == stale  # same ports, same CA path
        again = subprocess.run(
            env_command, cwd=tmp_path, env=outside_the_venv(), capture_output=True, text=True
        )
        assert (again.returncode, again.stderr, again.stdout) == (0, "", first.stdout)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


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
    completed, _ = run_routed(state, "env", "-u", "FAL_KEY", sys.executable, "-c", OPENAPI_FETCH)
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    status, doc = seen["doc"]
    assert status == 200 and doc["openapi"] == "3.0.4"
    assert doc["info"]["x-fal-metadata"]["endpointId"] == "fal-ai/luma-dream-machine/ray-2"
    assert "LumaDreamMachineRay2Input" in doc["components"]["schemas"]
    for name in ("other", "unknown"):
        status, body = seen[name]
        assert status == 404 and body["error_type"] == "not_found", seen[name]


EXAMPLE_FETCH = """
import json, httpx
urls = ["https://fal.media/files/elephant/8kkhB12hEZI2kkbU8pZPA_test.jpeg",
        "https://v3.fal.media/files/zebra/9aDde3Te2kuJYHdR0Kz8R_output.mp4",
        "https://v3.fal.media/files/zebra/not-published_output.mp4"]
seen = [httpx.get(url, timeout=60) for url in urls]
print(json.dumps([[a.status_code, a.headers["content-type"], a.content[:8].hex()] for a in seen]))
"""


def test_fals_published_example_media_download_through_env_exports(
    served: tuple[ServerInfo, Path],
) -> None:
    """fal's OpenAPI examples (an image-to-video ``image_url``, the reframe/modify
    ``video_url``) fetched as a harness reading the published document would: the placeholder
    the model draws for them, as a JPEG or an MP4; any other CDN path stays a 404."""
    _, state = served
    completed, _ = run_routed(state, sys.executable, "-c", EXAMPLE_FETCH)
    assert completed.returncode == 0, completed.stderr
    (image, video, other) = json.loads(completed.stdout)
    assert image[:2] == [200, "image/jpeg"] and image[2].startswith("ffd8ff")
    assert video[:2] == [200, "video/mp4"] and bytes.fromhex(video[2])[4:8] == b"ftyp"
    assert other[0] == 404
