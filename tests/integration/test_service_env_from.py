"""`ray2-mock env --from http://HOST:PORT`: env mode for an emulator that runs elsewhere.

`ray2-mock serve --host 0.0.0.0` as a real process stands for the container; the exports are
built from its plain port alone (its listeners and its CA fetched over HTTP, no state dir
shared), `eval`ed in `sh`, and the unmodified `fal_client` subscribes and downloads the video.
"""

from __future__ import annotations

import http.server
import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_env_routing import CLIENT_SCRIPT
from tests.reliability.serveproc import ServeProcess, start_serve
from tests.support import machine_address, unrouted_env

T2V = "fal-ai/luma-dream-machine/ray-2"


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """The emulator "in the container": its own state dir, bound beyond loopback, closed."""
    served = start_serve(
        tmp_path_factory.mktemp("remote") / "state", "--host", "0.0.0.0", "--timing", "instant"
    )
    try:
        yield served
    finally:
        assert served.stop() == 0


def env_from(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockserver.cli", "env", "--from", url, *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=60, env=unrouted_env()
    )


def run_client(exports: str) -> dict[str, object]:
    """The unmodified client in a fresh shell whose only routing is ``exports``."""
    shell = f'{exports}\nexec {shlex.quote(sys.executable)} -c "$0" {T2V}'
    done = subprocess.run(
        ["sh", "-c", shell, CLIENT_SCRIPT],
        env=unrouted_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["proxy", "direct"])
def test_the_unmodified_client_reaches_a_remote_emulator_with_one_eval(
    remote: ServeProcess, tmp_path: Path, mode: str
) -> None:
    url = f"http://127.0.0.1:{remote.info.port}"
    printed = env_from(url, tmp_path, "--mode", mode)
    assert printed.returncode == 0, printed.stderr
    assert printed.stderr == ""  # every port answers: no warning
    saved = tmp_path / ".ray2-mock" / "remote" / f"127.0.0.1-{remote.info.port}" / "ca.pem"
    assert remote.info.ca_cert is not None
    assert saved.read_bytes() == Path(remote.info.ca_cert).read_bytes()  # fetched, not shared
    assert f"SSL_CERT_FILE={saved}" in printed.stdout
    if mode == "proxy":
        assert f"HTTPS_PROXY=http://127.0.0.1:{remote.info.proxy_port}" in printed.stdout
    else:
        assert f"FAL_QUEUE_RUN_HOST=127.0.0.1:{remote.info.tls_port}" in printed.stdout
    seen = run_client(printed.stdout)
    video = seen["result"]["video"]  # type: ignore[index]
    assert seen["video_type"] == "video/mp4" and seen["video_bytes"] == video["file_size"]
    assert seen["updates"][-1] == "Completed"  # type: ignore[index]


def test_a_host_reached_by_its_network_address_in_proxy_mode(
    remote: ServeProcess, tmp_path: Path
) -> None:
    """Another machine's view: the emulator by a non-loopback address, the CONNECT proxy
    tunnelling fal's host names (which the certificate names) to it."""
    address = machine_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    printed = env_from(f"http://{address}:{remote.info.port}", tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert f"HTTPS_PROXY=http://{address}:{remote.info.proxy_port}" in printed.stdout
    seen = run_client(printed.stdout)
    assert seen["video_type"] == "video/mp4"


def test_published_ports_can_be_given_and_a_silent_one_is_warned_about(
    remote: ServeProcess, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{remote.info.port}"
    ca = tmp_path / "where-i-want-it.pem"
    given = env_from(
        url,
        tmp_path,
        "--tls-port",
        str(remote.info.tls_port),
        "--proxy-port",
        str(remote.info.proxy_port),
        "--ca-file",
        str(ca),
        "--shell",
        "fish",
    )
    assert given.returncode == 0, given.stderr
    assert f"set -gx HTTPS_PROXY 'http://127.0.0.1:{remote.info.proxy_port}'" in given.stdout
    assert f"set -gx NODE_EXTRA_CA_CERTS '{ca}'" in given.stdout and ca.is_file()
    silent = env_from(url, tmp_path, "--proxy-port", "1")
    assert silent.returncode == 0
    assert "warning: nothing answers on 127.0.0.1:1" in silent.stderr


class _NotAnEmulator(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_an_emulator() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotAnEmulator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_what_cannot_be_routed_says_why(
    not_an_emulator: str, tmp_path: Path, remote: ServeProcess
) -> None:
    other = env_from(not_an_emulator, tmp_path)
    assert other.returncode == 1 and "is not a ray2-mock emulator" in other.stderr
    assert other.stdout == ""
    closed_port = not_an_emulator.rsplit(":", 1)[0] + ":1"
    nobody = env_from(closed_port, tmp_path)
    assert nobody.returncode == 1 and "no emulator answers at" in nobody.stderr
    https = env_from(f"https://127.0.0.1:{remote.info.tls_port}", tmp_path)
    assert https.returncode == 1 and "http://HOST:PORT" in https.stderr
    alone = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "env", "--tls-port", "9"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert alone.returncode == 2 and "go with --from" in alone.stderr


def test_an_emulator_without_tls_has_no_env_routing(tmp_path: Path) -> None:
    served = start_serve(tmp_path / "state", "--tls-port", "0", "--timing", "instant")
    try:
        refused = env_from(served.url, tmp_path)
        assert refused.returncode == 1 and "runs without TLS" in refused.stderr
    finally:
        assert served.stop() == 0
