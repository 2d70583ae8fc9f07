"""The image as a service: built here with podman (`make image`) and run as users run it.

Registries are unreachable on these machines, so the base is made locally
(scripts/base-image.sh: mmdebstrap's minimal bookworm with Python 3.11, imported into podman)
and the build itself runs with ``--network none`` on wheels prepared on the host. podman gets
two settings from a CONTAINERS_CONF file of the test's own (nothing in /etc changes): the runc
runtime (crun refuses this kind of machine's hybrid cgroup layout) and ulimits the sandbox can
grant. `make test` installs podman when it can (scripts/ensure-podman.sh); under ``CI=true`` a
missing tool fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.integration.test_webhooks import (
    Delivery,
    Receiver,
    fetch_keys,
    running_receiver,
    verified,
)
from tests.support import (
    REPO_ROOT,
    TEST_KEY,
    route_storage,
    unrouted_env,
    wait_until,
)

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
IMAGE = "localhost/ray2-mock:latest"
TOKEN = "container-test-admin-token"
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
REQUIRED = ("podman", "runc", "mmdebstrap")


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    missing = [tool for tool in REQUIRED if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"[required tool] {', '.join(missing)} not found: `make test` installs them with "
            "apt-get when run as root (scripts/ensure-podman.sh)"
        )
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def run(env: dict[str, str], *command: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, (
            f"{' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


@pytest.fixture(scope="module")
def image(podman_env: dict[str, str]) -> str:
    """`make image` on the locally made base, exactly as a user builds it."""
    script = str(REPO_ROOT / "scripts" / "base-image.sh")
    base = run(podman_env, "sh", script, timeout=600).strip().splitlines()[-1]
    make = ["make", "-C", str(REPO_ROOT), "image", f"IMAGE_BASE={base}"]
    run(podman_env, *make, timeout=1200)
    return IMAGE


def free_port_run() -> int:
    """A port P with P, P+1 and P+2 free on loopback: the emulator's three listeners."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first > 65000:
            continue
        try:
            for offset in (1, 2):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        return first
    raise AssertionError("no three consecutive free ports")


@dataclass
class Container:
    env: dict[str, str]
    name: str
    port: int
    volume: str
    options: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, image: str) -> Container:
        publish = [f"127.0.0.1:{self.port + i}:{8765 + i}" for i in range(3)]
        command = ["podman", "run", "-d", "--name", self.name, "-v", f"{self.volume}:/data"]
        command += [arg for spec in publish for arg in ("-p", spec)]
        command += [arg for k, v in self.variables.items() for arg in ("-e", f"{k}={v}")]
        run(self.env, *command, *self.options, image)
        return self

    def healthy(self) -> bool:
        done = subprocess.run(
            ["podman", "healthcheck", "run", self.name], env=self.env, capture_output=True
        )
        return done.returncode == 0

    def wait_healthy(self) -> None:
        wait_until(self.healthy, timeout=90, every=0.5, what=f"{self.name} healthy")

    def logs(self) -> str:
        done = subprocess.run(
            ["podman", "logs", self.name], env=self.env, capture_output=True, text=True
        )
        return done.stdout + done.stderr

    def remove(self) -> None:
        run(self.env, "podman", "rm", "-f", "-t", "5", self.name, check=False)
        run(self.env, "podman", "volume", "rm", "-f", self.volume, check=False)


@pytest.fixture(scope="module")
def service(podman_env: dict[str, str], image: str) -> Iterator[Container]:
    tag = uuid.uuid4().hex[:8]
    container = Container(
        podman_env,
        name=f"ray2-mock-test-{tag}",
        port=free_port_run(),
        volume=f"ray2-mock-test-{tag}",
        variables={
            "RAY2_MOCK_TIMING": "instant",
            "RAY2_MOCK_ADMIN_TOKEN": TOKEN,
            "RAY2_MOCK_WEBHOOK_ALLOW": "host.containers.internal",
        },
    )
    container.start(image)
    try:
        container.wait_healthy()
        yield container
    finally:
        container.remove()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """On every interface: the container reaches the host as host.containers.internal."""
    with running_receiver("0.0.0.0") as state:
        yield state


def test_it_turns_healthy_and_runs_as_a_user_that_is_not_root(service: Container) -> None:
    assert service.healthy()
    uid = run(service.env, "podman", "exec", service.name, "id", "-u").strip()
    assert uid != "0"
    health = httpx.get(f"{service.url}/_mock/health", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def test_fal_client_subscribes_uploads_and_gets_a_signed_webhook_through_the_published_port(
    service: Container,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    client = route_storage(monkeypatch, service.url)
    result = client.subscribe(T2V, arguments={"prompt": "a fox in a container"})
    video = httpx.get(result["video"]["url"], timeout=30)
    assert video.headers["content-type"] == "video/mp4"
    assert len(video.content) == result["video"]["file_size"]

    Image.new("RGB", (1280, 720), "orange").save(tmp_path / "first.png")
    image_url = client.upload_file(tmp_path / "first.png")
    assert httpx.get(image_url, timeout=10).content == (tmp_path / "first.png").read_bytes()
    port = receiver.url.rsplit(":", 1)[1]
    hook = f"http://host.containers.internal:{port}/hook"
    handle = client.submit(
        I2V, arguments={"prompt": "from the upload", "image_url": image_url}, webhook_url=hook
    )
    output = handle.get()
    [delivery] = receiver.wait_for("/hook", 1, timeout=60)
    assert json.loads(delivery.body)["payload"] == output
    keys = fetch_keys(f"{service.url}/_mock/webhooks/jwks.json", authorization=f"Bearer {TOKEN}")
    assert verified(delivery, keys)
    assert not verified(Delivery(delivery.path, delivery.headers, delivery.body + b" ", 200), keys)


ROUTED_PROGRAM = """
import io, json, sys, httpx, fal_client
from PIL import Image
frame = io.BytesIO()
Image.new("RGB", (1280, 720), "teal").save(frame, format="PNG")
image_url = fal_client.upload(frame.getvalue(), "image/png")
handle = fal_client.submit("fal-ai/luma-dream-machine/ray-2/image-to-video",
                           arguments={"prompt": "routed", "image_url": image_url},
                           webhook_url=sys.argv[1])
result = handle.get()
video = httpx.get(result["video"]["url"], timeout=30)
print(json.dumps({"image_url": image_url, "result": result, "request_id": handle.request_id,
                  "video_type": video.headers["content-type"], "video_bytes": len(video.content)}))
"""


def test_env_mode_from_the_host_routes_an_unmodified_program(
    service: Container, receiver: Receiver
) -> None:
    """Upload, subscribe, the video and a signed webhook, with only `env --from`'s exports."""
    exports = run(
        service.env,
        sys.executable,
        "-m",
        "mockserver.cli",
        "env",
        "--from",
        service.url,  # its routes are open: the CA and the ports are public
    )
    port = receiver.url.rsplit(":", 1)[1]
    hook = f"http://host.containers.internal:{port}/env-hook"
    shell = f'{exports}\nexec "{sys.executable}" -c "$0" "$1"'
    done = subprocess.run(
        ["sh", "-c", shell, ROUTED_PROGRAM, hook],
        env=unrouted_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["image_url"].startswith("https://v3b.fal.media/files/b/")
    assert seen["result"]["video"]["url"].startswith("https://v3b.fal.media/files/b/")
    assert seen["video_type"] == "video/mp4"
    assert seen["video_bytes"] == seen["result"]["video"]["file_size"]
    [delivery] = receiver.wait_for("/env-hook", 1, timeout=60)
    assert json.loads(delivery.body)["request_id"] == seen["request_id"]
    assert verified(delivery, fetch_keys(f"{service.url}/_mock/webhooks/jwks.json"))


def test_the_control_plane_needs_the_token_beyond_loopback(service: Container) -> None:
    refused = httpx.get(f"{service.url}/_mock/journal", timeout=10)
    assert refused.status_code == 401
    served = httpx.get(
        f"{service.url}/_mock/journal", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert served.status_code == 200 and "entries" in served.json()
    assert TOKEN not in service.logs()


def test_a_restart_on_the_same_volume_keeps_earlier_results(service: Container) -> None:
    auth = {"Authorization": f"Key {TEST_KEY}"}
    submitted = httpx.post(f"{service.url}/{T2V}", json={"prompt": "kept"}, headers=auth)
    result_url = (
        f"{service.url}/fal-ai/luma-dream-machine/requests/{submitted.json()['request_id']}"
    )
    before = wait_until(
        lambda: (r := httpx.get(result_url, headers=auth)).status_code == 200 and r, timeout=60
    )
    run(service.env, "podman", "restart", "-t", "10", service.name)
    service.wait_healthy()
    after = httpx.get(result_url, headers=auth, timeout=10)
    assert after.status_code == 200 and after.json() == before.json()


def test_sigterm_stops_it_cleanly_within_the_stop_timeout(
    podman_env: dict[str, str], image: str
) -> None:
    """`podman stop -t 10` sends SIGTERM to PID 1 and SIGKILLs after 10 s: exit code 0 means
    the emulator itself stopped, cleanly, inside that limit."""
    tag = uuid.uuid4().hex[:8]
    container = Container(podman_env, f"ray2-mock-stop-{tag}", free_port_run(), f"stop-{tag}")
    container.start(image)
    try:
        container.wait_healthy()
        auth = {"Authorization": f"Key {TEST_KEY}"}
        accepted = httpx.post(f"{container.url}/{T2V}", json={"prompt": "in flight"}, headers=auth)
        assert accepted.status_code == 200
        run(podman_env, "podman", "stop", "-t", "10", container.name)
        state = json.loads(run(podman_env, "podman", "inspect", container.name))[0]["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 0), state
        assert "ray2-mock stopped" in container.logs()
    finally:
        container.remove()


def test_a_read_only_root_with_the_volume_and_a_tmpfs_works(
    podman_env: dict[str, str], image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    container = Container(
        podman_env,
        f"ray2-mock-ro-{tag}",
        free_port_run(),
        f"ro-{tag}",
        options=("--read-only", "--tmpfs", "/tmp"),
        variables={"RAY2_MOCK_TIMING": "instant"},
    )
    container.start(image)
    try:
        container.wait_healthy()
        client = route_storage(monkeypatch, container.url)
        result = client.subscribe(T2V, arguments={"prompt": "read-only root"})
        video = httpx.get(result["video"]["url"], timeout=30)
        assert video.headers["content-type"] == "video/mp4"
        assert len(video.content) == result["video"]["file_size"]
    finally:
        container.remove()
