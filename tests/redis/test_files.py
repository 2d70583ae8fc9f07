"""Uploads and generated files across replicas: what one replica stored, any other serves.

Each test runs two or three emulators, each with its own state directory (and media cache
where it matters), on one real Redis of the test's own, over real sockets; fal_client, where a
client would be used, talks to a round-robin balancer in front of them. The expected values
come from one rule: a single emulator would answer these bytes and headers, so every replica
must (``Date`` aside).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest

import mockserver.shared.files as shared_files
from mockserver.serving.background import BackgroundEmulator
from tests.redis.front import Front
from tests.redis_server import RedisServer
from tests.support import (
    TEST_KEY,
    make_config,
    route_fal_client,
    route_storage,
    serve_process,
    wait_until,
)

T2V = "fal-ai/luma-dream-machine/ray-2"
MODIFY = "fal-ai/luma-dream-machine/ray-2-flash/modify"
FLUX = "fal-ai/flux/dev"
KEY_AUTH = {"Authorization": f"Key {TEST_KEY}"}
LIFECYCLE = "X-Fal-Object-Lifecycle-Preference"
HOUR = 3600.0
TOKEN_DAYS = 30
"""A live CDN token of 2026-09 was valid for 30 days."""


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own: every replica uses the default key prefix."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def replicas(tmp_path: Path, url: str, count: int) -> Iterator[list[BackgroundEmulator]]:
    """``count`` emulators on one Redis; the first renders into the session's media cache,
    the others each into their own (so a file they serve cannot come from a shared disk)."""
    with contextlib.ExitStack() as stack:
        running = []
        for n in range(count):
            own = {} if n == 0 else {"media_cache_dir": None}
            config = make_config(tmp_path / f"replica{n}", store=url, **own)
            running.append(stack.enter_context(BackgroundEmulator(config)))
        yield running


def on(replica: BackgroundEmulator, url: str) -> str:
    """``url`` (a file on any replica or on the balancer) as the same path on ``replica``."""
    parts = urllib.parse.urlsplit(url)
    return replica.url + parts.path + (f"?{parts.query}" if parts.query else "")


def served(url: str, **headers: str) -> httpx.Response:
    response = httpx.get(url, headers=headers, timeout=30)
    del response.headers["date"]
    return response


def assert_served_alike(url: str, everywhere: list[BackgroundEmulator], data: bytes) -> None:
    """Every replica answers ``url`` with ``data`` and the same headers, whole and by range."""
    answers = [served(on(replica, url)) for replica in everywhere]
    for answer in answers:
        assert (answer.status_code, answer.content) == (200, data)
        assert answer.headers == answers[0].headers
    ranges = [served(on(replica, url), Range="bytes=5-24") for replica in everywhere]
    for answer in ranges:
        assert (answer.status_code, answer.content) == (206, data[5:25])
        assert answer.headers == ranges[0].headers


def test_a_token_one_replica_issued_opens_uploads_on_another(
    tmp_path: Path, redis_url: str
) -> None:
    with replicas(tmp_path, redis_url, 2) as (a, b):
        issued = httpx.post(
            f"{a.url}/storage/auth/token?storage_type=fal-cdn-v3", headers=KEY_AUTH, json={}
        )
        token = issued.json()["token"]
        upload = {"Content-Type": "text/plain", "X-Fal-File-Name": "note.txt"}
        taken = httpx.post(
            f"{b.url}/files/upload",
            headers={**upload, "Authorization": f"Bearer {token}"},
            content=b"through b",
        )
        assert taken.status_code == 200, taken.text
        assert httpx.get(on(a, taken.json()["access_url"])).content == b"through b"
        invented = httpx.post(
            f"{b.url}/files/upload",
            headers={**upload, "Authorization": "Bearer emu-never-issued"},
            content=b"x",
        )
        assert (invented.status_code, invented.json()["error_type"]) == (401, "invalid_token")


def test_fal_client_uploads_through_a_balancer_and_every_replica_serves_them(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_files, "CHUNK_BYTES", 1000)  # several chunks per file
    with replicas(tmp_path, redis_url, 2) as running, Front([r.url for r in running]) as lb:
        client = route_storage(monkeypatch, lb.url)
        data = os.urandom(2500)
        url = client.upload(data, "image/png", "frame.png", fallback_repository=[])
        path = tmp_path / "clip one.mp4"
        path.write_bytes(os.urandom(3100))
        file_url = client.upload_file(path, fallback_repository=[])
        [token_by] = lb.replicas_for("POST", "/storage/auth/token")
        uploaded_by = lb.replicas_for("POST", "/files/upload")
        assert token_by != uploaded_by[0]  # the token of one replica let the other take it
        assert set(uploaded_by) == {0, 1}
        assert_served_alike(url, running, data)
        assert served(on(running[1], url)).headers["content-type"] == "image/png"
        assert_served_alike(file_url, running, path.read_bytes())


def test_a_multipart_upload_spread_over_three_replicas_is_one_file(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client_module, "MULTIPART_THRESHOLD", 64 * 1024)
    monkeypatch.setattr(fal_client_module, "MULTIPART_CHUNK_SIZE", 16 * 1024)
    monkeypatch.setattr(shared_files, "CHUNK_BYTES", 5000)  # parts of several chunks
    with replicas(tmp_path, redis_url, 3) as running, Front([r.url for r in running]) as lb:
        client = route_storage(monkeypatch, lb.url)
        data = os.urandom(100 * 1024)  # 7 parts, sent in parallel
        url = client.upload(data, "video/mp4", file_name="clip.mp4")
        [started_by] = lb.replicas_for("POST", "/files/upload/multipart")
        parts_by = [i for m, p, i in lb.served if m == "PUT" and "/multipart/" in p]
        [completed_by] = lb.replicas_for("POST", "/complete")
        assert len(parts_by) == 7 and set(parts_by) == {0, 1, 2}
        assert completed_by != started_by
        assert_served_alike(url, running, data)
        file_id = urllib.parse.urlsplit(url).path.split("/")[-1][:21]
        for replica in running:
            stored = replica.call(replica.services.files.get, file_id)
            assert (stored.state, stored.size, stored.part_count) == ("ready", len(data), 7)
        assert leftovers(redis_url, "files:part*") == []  # the parts' bytes became the file's


def test_a_signed_multipart_upload_moves_between_replicas(tmp_path: Path, redis_url: str) -> None:
    """@fal-ai/client's path: initiate-multipart (Key), then parts and the completion on the
    signed ``upload_url``, each here on another replica than the one before."""
    with replicas(tmp_path, redis_url, 2) as (a, b):
        body = {"file_name": "long.bin", "content_type": "application/octet-stream"}
        initiated = httpx.post(
            f"{a.url}/storage/upload/initiate-multipart", headers=KEY_AUTH, json=body
        ).json()
        upload = urllib.parse.urlsplit(initiated["upload_url"])
        first, second = os.urandom(7000), os.urandom(3000)
        parts = []
        for number, (replica, chunk) in enumerate(((b, first), (a, second)), start=1):
            put = httpx.put(f"{replica.url}{upload.path}/{number}?{upload.query}", content=chunk)
            assert put.status_code == 200, put.text
            parts.append(put.json())
        done = httpx.post(f"{b.url}{upload.path}/complete?{upload.query}", json={"parts": parts})
        assert done.status_code == 200, done.text
        assert_served_alike(initiated["file_url"], [a, b], first + second)
        replaced = httpx.post(
            f"{a.url}{upload.path}/complete?{upload.query}", json={"parts": parts}
        )
        assert replaced.json()["error_type"] == "upload_not_found"  # the upload is over, for all


def test_a_signed_put_replaces_the_file_on_every_replica(tmp_path: Path, redis_url: str) -> None:
    """The signed ``upload_url`` of initiate may be PUT again: a replica that served the first
    bytes serves the second ones after, never its old copy."""
    with replicas(tmp_path, redis_url, 2) as (a, b):
        body = {"file_name": "again.txt", "content_type": "text/plain"}
        initiated = httpx.post(f"{a.url}/storage/upload/initiate", headers=KEY_AUTH, json=body)
        urls = initiated.json()
        text = {"Content-Type": "text/plain"}
        assert httpx.put(on(a, urls["upload_url"]), content=b"first", headers=text).is_success
        assert httpx.get(on(b, urls["file_url"])).content == b"first"
        assert httpx.put(on(b, urls["upload_url"]), content=b"second", headers=text).is_success
        assert [httpx.get(on(r, urls["file_url"])).content for r in (a, b)] == [b"second"] * 2


def test_generated_files_download_from_a_replica_that_never_made_them(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with replicas(tmp_path, redis_url, 2) as (a, b):
        route_fal_client(monkeypatch, a.url)
        client = fal_client.SyncClient(key=TEST_KEY)
        url = client.subscribe(T2V, arguments={"prompt": "tide"})["video"]["url"]
        rendered = served(url)
        assert rendered.status_code == 200 and rendered.content[4:8] == b"ftyp"
        assert_served_alike(url, [a, b], rendered.content)
        assert httpx.head(on(b, url)).headers["content-length"] == str(len(rendered.content))
        assert b.services.renderer.renders_started == 0  # b read the bytes a published
        other = url.replace(urllib.parse.urlsplit(url).path.split("/")[-1][:21], "x" * 21)
        assert httpx.get(on(b, other)).status_code == 404
        images = client.subscribe(FLUX, arguments={"prompt": "lighthouse", "num_images": 2})
        for image in images["images"]:  # an output made by rule: one file per image
            made = served(image["url"])
            assert made.headers["content-type"] == image["content_type"]
            assert_served_alike(image["url"], [a, b], made.content)


def test_an_upload_on_one_replica_is_an_input_on_another(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image uploaded through one replica is the ``image_url`` of a request another
    replica renders, whose video is then the ``video_url`` of a request on the first: each
    reads the other's bytes (not a download error, not a placeholder)."""
    with replicas(tmp_path, redis_url, 2) as (a, b):
        client = route_storage(monkeypatch, a.url)
        image = client.upload(png(), "image/png", "start.png", fallback_repository=[])
        route_fal_client(monkeypatch, b.url)
        arguments = {"prompt": "from a's upload", "image_url": image}
        on_b = client.submit(f"{T2V}/image-to-video", arguments)
        video = on_b.get()["video"]["url"]
        assert video.startswith(b.url)
        route_fal_client(monkeypatch, a.url)
        on_a = client.submit(MODIFY, {"video_url": video, "mode": "flex_2"})
        assert served(on_a.get()["video"]["url"]).status_code == 200
        for replica, handle in ((b, on_b), (a, on_a)):  # a foreign URL would be a placeholder
            notes = httpx.get(f"{replica.url}/_mock/ui/requests/{handle.request_id}").json()
            assert not any("placeholder" in note for note in notes["notes"]), notes["notes"]


def leftovers(redis_url: str, pattern: str) -> list[bytes]:
    """Keys of the emulator's that match ``pattern`` (after its prefix)."""
    import redis

    from mockserver.shared.connection import DEFAULT_PREFIX

    with redis.Redis.from_url(redis_url) as client:
        return list(client.scan_iter(match=DEFAULT_PREFIX + pattern))


def png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


def advance(
    replica: BackgroundEmulator, seconds: float, everywhere: list[BackgroundEmulator]
) -> None:
    """Move the shared clock through ``replica`` and wait until every replica has heard it."""
    moved = httpx.post(f"{replica.url}/_mock/clock/advance", json={"seconds": seconds})
    now = moved.json()["now"]
    for other in everywhere:
        wait_until(
            lambda o=other: httpx.get(f"{o.url}/_mock/clock").json()["now"] >= now,
            what=f"{other.url} hearing the clock",
        )


def test_expiry_follows_the_shared_clock_on_every_replica(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upload, output and token lifetimes set on one replica end on the others, by the one
    emulated clock, whichever replica moves it."""
    with replicas(tmp_path, redis_url, 2) as (a, b):
        client = route_storage(monkeypatch, a.url)
        settings = fal_client.client.StorageSettings(expires_in="1h")
        upload = client.upload(b"an hour", "text/plain", lifecycle=settings)
        lifetime = json.dumps({"expiration_duration_seconds": HOUR})
        handle = client.submit(T2V, arguments={"prompt": "an hour"}, headers={LIFECYCLE: lifetime})
        video = handle.get()["video"]["url"]
        token = httpx.post(f"{a.url}/storage/auth/token", headers=KEY_AUTH, json={})
        bearer = {"Authorization": f"Bearer {token.json()['token']}", "Content-Type": "text/plain"}
        for url in (upload, video):
            assert httpx.get(on(b, url)).status_code == 200
        advance(b, HOUR - 60, [a, b])
        assert httpx.get(on(b, upload)).status_code == 200
        assert httpx.get(on(a, video)).status_code == 200
        advance(a, 60, [a, b])
        for replica in (a, b):
            for url in (upload, video):
                gone = httpx.get(on(replica, url))
                assert (gone.status_code, gone.json()["error_type"]) == (410, "file_expired")
        assert httpx.post(f"{b.url}/files/upload", headers=bearer, content=b"x").is_success
        object_id = urllib.parse.urlsplit(upload).path.split("/")[-1][:21]
        for replica in (a, b):  # the bytes went everywhere: each replica's copy, and Redis's
            copy = replica.config.files_dir / "objects" / object_id
            wait_until(lambda c=copy: not c.exists(), what=f"{copy} deleted")
        assert leftovers(redis_url, f"files:object-bytes:{object_id}:*") == []
        advance(a, TOKEN_DAYS * 86400, [a, b])
        refused = httpx.post(f"{b.url}/files/upload", headers=bearer, content=b"x")
        assert (refused.status_code, refused.json()["error_type"]) == (401, "token_expired")


def test_a_copy_keeps_the_originals_time_so_last_modified_agrees(
    tmp_path: Path, redis_url: str
) -> None:
    """``Last-Modified`` is the file's mtime: a replica's copy takes the original's (within
    one test the two would share a second anyway, so the original here is from 2001)."""
    from mockserver.clock import ManualClock
    from mockserver.shared.connection import SharedRedis
    from mockserver.shared.files import SharedFileStore

    stores = [
        SharedFileStore(tmp_path / name / "files", ManualClock(), SharedRedis(redis_url), tmp_path)
        for name in ("a", "b")
    ]
    obj = stores[0].create("old.txt", "text/plain", lifetime_seconds=None)
    source = stores[0].incoming_path()
    source.write_bytes(b"from 2001")
    os.utime(source, (1e9, 1e9))
    stores[0].finish(obj, source, 9, f'"{hashlib.md5(b"from 2001").hexdigest()}"')
    try:
        copy = stores[1].blob_file(stores[1].get(obj.object_id))
        assert (copy.read_bytes(), copy.stat().st_mtime) == (b"from 2001", 1e9)
    finally:
        for store in stores:
            store.shared.sync.close()


def test_two_serve_processes_share_an_upload(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first flow again with real ``ray2-mock serve`` processes: nothing is shared but
    Redis (no module state, no disk)."""
    with (
        serve_process(tmp_path / "a", "--store", redis_url) as a,
        serve_process(tmp_path / "b", "--store", redis_url) as b,
    ):
        data = os.urandom(3000)
        url = route_storage(monkeypatch, a.url).upload(data, "application/octet-stream", "x.bin")
        answers = [served(replica.url + urllib.parse.urlsplit(url).path) for replica in (a, b)]
        assert [answer.content for answer in answers] == [data, data]
        assert answers[1].headers == answers[0].headers


def test_a_replica_keeps_few_outputs_in_memory_and_reads_the_rest_again(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.clock import ManualClock
    from mockserver.shared.connection import SharedRedis
    from mockserver.shared.files import SharedFileStore

    monkeypatch.setattr(shared_files, "OUTPUTS_KEPT", 2)
    media = tmp_path / "media"
    store = SharedFileStore(tmp_path / "files", ManualClock(), SharedRedis(redis_url), media)
    try:
        keys = [hashlib.sha256(bytes([n])).hexdigest()[:32] for n in range(3)]
        for key in keys:
            (media / f"{key}.mp4").write_bytes(key.encode())
        made = [store.add_output(key, "output.mp4") for key in keys]
        assert list(store._outputs) == [output.file_id for output in made[1:]]
        assert [store.output(output.file_id) for output in made] == made  # the first from Redis
    finally:
        store.shared.sync.close()


def test_without_redis_a_file_request_is_fals_503_and_serving_resumes_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        with replicas(tmp_path, server.url, 2) as (a, b):
            url = route_storage(monkeypatch, a.url).upload(b"kept", "text/plain", "k.txt")
            server.stop()
            down = httpx.get(on(b, url))
            assert down.status_code == 503  # the gateway's own (its shape: the outage tests)
            assert "Redis" in down.headers["x-ray2-mock-note"]
            server.start()  # empty: this server keeps nothing on disk
            again = route_storage(monkeypatch, a.url).upload(b"again", "text/plain", "k.txt")
            assert httpx.get(on(b, again)).content == b"again"
    finally:
        server.stop()
