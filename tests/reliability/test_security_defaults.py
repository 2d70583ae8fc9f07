"""Safe by default: loopback only, no file escapes, no outbound fetches, capped bodies, no keys
written anywhere."""

from __future__ import annotations

import argparse
import base64
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.openapi import load_openapi
from mockserver import cli
from mockserver.config import Config
from mockserver.serving.background import BackgroundEmulator
from tests.reliability.serveproc import listening_addresses, start_serve
from tests.support import TEST_KEY, make_config

AUTH = {"Authorization": f"Key {TEST_KEY}"}
T2V = "/fal-ai/luma-dream-machine/ray-2"
I2V = "/fal-ai/luma-dream-machine/ray-2/image-to-video"
REQUESTS = "/fal-ai/luma-dream-machine/requests"
PNG = (Path(__file__).resolve().parents[2] / "fixtures" / "images" / "start.png").read_bytes()


def _serve_defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli._serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve"])


def test_defaults_bind_loopback_only(tmp_path: Path) -> None:
    assert Config().host == "127.0.0.1"
    assert _serve_defaults().host == "127.0.0.1"
    served = start_serve(tmp_path / "state", "--store", "sqlite")  # TLS and proxy on too
    try:
        addresses = listening_addresses([served.proc.pid])
        assert addresses == {"0100007F"}, addresses  # 127.0.0.1, three listeners
    finally:
        assert served.stop() == 0


# -- file routes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/files/mock/..%2F..%2Frequests.sqlite3",
        "/files/mock/..%2Fserver.json.mp4",
        "/files/mock/%2e%2e%2f%2e%2e%2fetc%2fpasswd.mp4",
        "/files/mock/....%2F%2Fetc%2Fpasswd.mp4",
        "/files/mock/%252e%252e%252fserver.json.mp4",
        "/files/mock/" + "0" * 32 + "%00.mp4",
        "/files/mock/.tmp-" + "0" * 32 + ".mp4",
        "/files/../server.json",
    ],
)
def test_file_routes_refuse_traversal(emulator: BackgroundEmulator, path: str) -> None:
    response = httpx.get(emulator.url + path, timeout=10)
    assert response.status_code == 404
    assert b"127.0.0.1" not in response.content and b"root:" not in response.content


def test_file_routes_refuse_a_symlink_out_of_the_media_dir(tmp_path: Path) -> None:
    """A file named like a video but linking elsewhere (planted, or a stale link) is not served."""
    secret = tmp_path / "outside.txt"
    secret.write_text("not for the web")
    media = tmp_path / "media"
    with BackgroundEmulator(make_config(tmp_path, media_cache_dir=media)) as emulator:
        key = "ab" * 16
        (media / f"{key}.mp4").symlink_to(secret)
        for route in (f"/files/mock/{key}.mp4", f"/files/mock/{key}"):
            response = httpx.get(emulator.url + route, timeout=10)
            assert response.status_code == 404, route
            assert b"not for the web" not in response.content


# -- outbound traffic ----------------------------------------------------------------------


@pytest.fixture
def image_host() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/start.png", hits
    finally:
        server.shutdown()
        server.server_close()


def _result_of(url: str, body: dict[str, object]) -> httpx.Response:
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        request_id = client.post(I2V, json=body).json()["request_id"]
        deadline = time.monotonic() + 60
        while client.get(f"{REQUESTS}/{request_id}/status").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return client.get(f"{REQUESTS}/{request_id}")


@pytest.mark.parametrize("remote", ["placeholder", "fail", "fetch"])
def test_remote_image_fetch_happens_only_when_asked_for(
    tmp_path: Path, image_host: tuple[str, list[str]], remote: str
) -> None:
    url, hits = image_host
    config = make_config(tmp_path, remote_images=remote)
    with BackgroundEmulator(config) as emulator:
        result = _result_of(emulator.url, {"prompt": "ssrf", "image_url": url})
    if remote == "fetch":  # proves the probe would see a fetch
        assert result.status_code == 200 and hits == ["/start.png"]
    elif remote == "placeholder":  # the default: a placeholder frame, nothing leaves the host
        assert result.status_code == 200 and hits == []
    else:
        assert result.status_code == 422 and hits == []
        (detail,) = result.json()["detail"]
        assert detail["type"] == "file_download_error" and detail["loc"] == ["body", "image_url"]


# -- caps ----------------------------------------------------------------------------------


def test_body_cap_applies_to_every_body(tmp_path: Path) -> None:
    config = make_config(tmp_path, max_body_bytes=4096)
    image = "data:image/png;base64," + base64.b64encode(os.urandom(6000)).decode()
    with (
        BackgroundEmulator(config) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=10) as client,
    ):
        for path in (I2V, "/run" + I2V):
            response = client.post(path, json={"prompt": "big", "image_url": image})
            assert response.status_code == 413
            assert response.headers["x-fal-error-type"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            yield b'{"prompt": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        streamed = client.post(T2V, content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert client.post(T2V, json={"prompt": "x" * 3000}).status_code == 200


# -- secrets -------------------------------------------------------------------------------


def test_keys_are_not_written_to_logs_state_or_mock_routes(tmp_path: Path) -> None:
    """The right key and wrong ones, as Key and Bearer, at debug logging: none is written down."""
    secret, wrong, bearer = "sk-right:0123456789", "sk-wrong:9876543210", "bearer-secret-token"
    state = tmp_path / "state"
    served = start_serve(
        state, "--api-key", secret, "--log-level", "debug", "--timing", "instant", "--tls-port", "0"
    )
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            ok = client.post(
                T2V, json={"prompt": "k prompt"}, headers={"Authorization": f"Key {secret}"}
            )
            assert ok.status_code == 200
            request_id = ok.json()["request_id"]
            for header in (f"Key {wrong}", f"Bearer {bearer}", f"Key {secret}"):
                auth = {"Authorization": header}
                client.post(T2V, json={"prompt": "k prompt"}, headers=auth)
                client.get(f"{REQUESTS}/{request_id}/status?logs=1", headers=auth)
                client.get(f"{REQUESTS}/{request_id}", headers=auth)
            mock_reads = [  # every JSON read of the control API (not the endless event feed)
                path
                for path, ops in load_openapi()["paths"].items()
                if path.startswith("/_mock/")
                and "{" not in path
                and "application/json"
                in ops.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
            ]
            assert "/_mock/journal" in mock_reads and "/_mock/requests" in mock_reads
            for path in mock_reads:
                body = client.get(path, headers={"Authorization": f"Key {secret}"}).text
                assert secret not in body and wrong not in body and bearer not in body, path
    finally:
        assert served.stop() == 0
    written = [served.log_text()] + [
        p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file()
    ]
    assert "POST /fal-ai/luma-dream-machine/ray-2" in served.log_text()  # debug did log requests
    for text in written:
        assert secret not in text and wrong not in text and bearer not in text
