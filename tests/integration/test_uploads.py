"""fal storage through the real, unmodified fal_client: CDN v3, multipart, fallback, lifecycle.

The client's URL globals (queue, run, REST, CDN) are patched to the emulator, exactly as the
in-process routing recipe says; everything else is the client's own code over real sockets.
"""

from __future__ import annotations

import io
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import av
import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from mockserver.serving.background import BackgroundEmulator
from tests.support import CDN_FILE_PATH, make_config, route_storage

I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
# H.264 ultrafast on a picture of flat blocks stays within a few levels; a wrong picture is 30+.
SAME_PICTURE = 6.0


@pytest.fixture
def client(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    return route_storage(monkeypatch, emulator.url)


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path, max_upload_bytes=4096)) as running:
        yield running


def stored(emulator: BackgroundEmulator, url: str) -> object:
    """The emulator's metadata for an uploaded URL (which path stored it, how many parts)."""
    object_id = urllib.parse.urlsplit(url).path.split("/")[-1][:21]  # <21-char id>_<name>
    return emulator.call(emulator.services.files.get, object_id)


def blocks_picture(size: tuple[int, int]) -> Image.Image:
    """Large flat blocks: survives H.264 almost unchanged, and any wrong frame is far off."""
    image = Image.new("RGB", size, (20, 40, 200))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w // 2, h // 2), fill=(230, 60, 40))
    draw.rectangle((w // 2, h // 2, w, h), fill=(40, 200, 90))
    draw.ellipse((w // 3, h // 4, 2 * w // 3, 3 * h // 4), fill=(250, 240, 60))
    return image


def mad(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_upload_file_goes_to_cdn_v3_and_is_served_back(
    client: fal_client.SyncClient, emulator: BackgroundEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "start frame.png"
    blocks_picture((64, 36)).save(path)
    url = client.upload_file(path, fallback_repository=[])  # no silent fallback: v3 must work
    assert url.startswith(f"{emulator.url}/files/b/") and url.endswith("_start%20frame.png")
    assert CDN_FILE_PATH.search(urllib.parse.unquote(url))["name"] == "start frame.png"
    served = httpx.get(url)
    assert served.status_code == 200
    assert served.content == path.read_bytes()
    assert served.headers["content-type"] == "image/png"
    meta = stored(emulator, url)
    assert (meta.state, meta.size, meta.upload_secret) == ("ready", path.stat().st_size, None)


def test_upload_bytes_and_pil_image(
    client: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    text_url = client.upload(b"hello storage", "text/plain", fallback_repository=[])
    served = httpx.get(text_url)
    assert served.content == b"hello storage"
    assert served.headers["content-type"].startswith("text/plain")

    image_url = client.upload_image(blocks_picture((32, 32)), fallback_repository=[])
    assert image_url.endswith(".jpg")
    served = httpx.get(image_url)
    assert served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (32, 32)


def test_fallback_repository_initiate_and_put(client: fal_client.SyncClient) -> None:
    """Python's "fal" repository initiates with ``storage_type=gcs``, which live fal refuses
    since 2026 with 400 ``{"detail":"Invalid storage type"}``."""
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.upload(os.urandom(3000), "application/octet-stream", "blob.bin", repository="fal")
    assert (refused.value.status_code, refused.value.message) == (400, "Invalid storage type")
    assert refused.value.error_type is None
    assert refused.value.response.content == b'{"detail":"Invalid storage type"}'


def test_a_failed_v3_upload_surfaces_the_fallbacks_400(
    capped: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With its default fallback, fal_client 1.0.3 retries a failed v3 upload on the gcs
    repository; live fal refuses that, and the caller gets the fallback's 400."""
    client = route_storage(monkeypatch, capped.url)
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.upload(os.urandom(5000), "application/octet-stream")  # v3: over the cap
    assert (refused.value.status_code, refused.value.message) == (400, "Invalid storage type")
    assert refused.value.response.content == b'{"detail":"Invalid storage type"}'


def test_multipart_upload_reassembles_parts(
    client: fal_client.SyncClient, emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client_module, "MULTIPART_THRESHOLD", 64 * 1024)
    monkeypatch.setattr(fal_client_module, "MULTIPART_CHUNK_SIZE", 16 * 1024)
    data = os.urandom(100 * 1024)  # 7 parts, uploaded in parallel and listed in any order
    url = client.upload(data, "video/mp4", file_name="clip.mp4")
    served = httpx.get(url)
    assert served.content == data and served.headers["content-type"] == "video/mp4"
    assert stored(emulator, url).part_count == 7
    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]


def test_lifecycle_expiry_follows_the_emulator_clock(
    client: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    settings = fal_client.client.StorageSettings(expires_in="1h")
    url = client.upload(b"short-lived", "text/plain", lifecycle=settings)
    assert httpx.get(url).status_code == 200
    # The emulator's clock is wall time plus the advances: leave real time a wide margin.
    emulator.call(emulator.services.clock.advance, 3500)
    assert httpx.get(url).status_code == 200
    emulator.call(emulator.services.clock.advance, 100)
    gone = httpx.get(url)
    assert gone.status_code == 410
    assert gone.json() == {
        "detail": "File has expired (object lifecycle)",
        "error_type": "file_expired",
    }
    assert gone.headers["x-fal-error-type"] == "file_expired"
    assert stored(emulator, url).state == "expired"


def test_oversize_upload_is_refused_on_every_path(
    capped: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = route_storage(monkeypatch, capped.url)
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.upload(os.urandom(5000), "application/octet-stream", fallback_repository=[])
    assert refused.value.status_code == 413
    assert refused.value.error_type == "payload_too_large"
    monkeypatch.setattr(fal_client_module, "MULTIPART_THRESHOLD", 2048)
    monkeypatch.setattr(fal_client_module, "MULTIPART_CHUNK_SIZE", 2048)
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.upload(
            os.urandom(5000), "application/octet-stream"
        )  # parts race: a part or complete refuses
    assert refused.value.status_code == 413
    assert client.upload(os.urandom(4096), "application/octet-stream").startswith(capped.url)


def test_uploaded_image_becomes_the_first_frame(
    client: fal_client.SyncClient, tmp_path: Path
) -> None:
    picture = blocks_picture((960, 540))
    path = tmp_path / "start.png"
    picture.save(path)
    url = client.upload_file(path)
    result = client.subscribe(
        I2V,
        arguments={"prompt": "slow push-in", "image_url": url, "resolution": "540p"},
    )
    video = httpx.get(result["video"]["url"], timeout=30)
    (tmp_path / "out.mp4").write_bytes(video.content)
    with av.open(str(tmp_path / "out.mp4")) as container:
        first = next(container.decode(video=0)).to_image().convert("RGB")
    assert first.size == (960, 540)
    assert mad(first, picture) < SAME_PICTURE
    assert mad(first, blocks_picture((960, 540)).rotate(180)) > 5 * SAME_PICTURE


def test_resolve_local_url_maps_both_url_forms_to_the_file(
    client: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    """What the renderer is given: our URLs (loopback or fal's CDN form) become files on disk."""
    url = client.upload(b"\x89PNG fake", "image/png", "a.png", fallback_repository=[])
    resolve = emulator.services.storage.resolve_local_url
    local = emulator.call(resolve, url)
    assert local is not None and local.read_bytes() == b"\x89PNG fake"
    cdn_form = "https://v3b.fal.media" + url.split(emulator.url, 1)[1]
    assert emulator.call(resolve, cdn_form) == local
    unknown = emulator.call(resolve, cdn_form.replace("_a.png", "_b.png"))
    assert unknown is not None and not unknown.exists()  # ours but absent: a download error
    assert emulator.call(resolve, "https://example.com" + url.split(emulator.url, 1)[1]) is None
    assert emulator.call(resolve, "https://v3.fal.media/files/mock/other.png") is None
    assert emulator.call(resolve, "http://[::1/files/uploads/x/y.png") is None  # broken IPv6
    settings = fal_client.client.StorageSettings(expires_in=60)
    short = client.upload(b"\x89PNG", "image/png", "s.png", lifecycle=settings)
    emulator.call(emulator.services.clock.advance, 61)
    expired = emulator.call(resolve, short)
    assert expired is not None and not expired.exists()


def test_expired_upload_as_image_url_is_a_download_error(
    client: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    settings = fal_client.client.StorageSettings(expires_in="immediate")  # 60 s
    buffer = io.BytesIO()
    blocks_picture((64, 36)).save(buffer, format="PNG")
    url = client.upload(buffer.getvalue(), "image/png", "gone.png", lifecycle=settings)
    emulator.call(emulator.services.clock.advance, 61)
    with pytest.raises(fal_client.client.FalClientHTTPError) as failed:
        client.subscribe(I2V, arguments={"prompt": "x prompt", "image_url": url})
    assert failed.value.status_code == 422
    [entry] = failed.value.response.json()["detail"]
    assert (entry["loc"], entry["type"]) == (["body", "image_url"], "file_download_error")


LEGACY_OBJECTS = """CREATE TABLE objects (
    object_id TEXT PRIMARY KEY, file_name TEXT NOT NULL, content_type TEXT NOT NULL,
    state TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, etag TEXT,
    part_count INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, expires_at REAL,
    upload_secret TEXT, upload_expires_at REAL)"""
"""The objects table before uploads took fal's URL shape (no shard)."""


def test_files_stored_before_fals_url_shape_are_still_served(tmp_path: Path) -> None:
    files = tmp_path / "state" / "files"
    (files / "objects").mkdir(parents=True)
    (files / "objects" / "oldId123").write_bytes(b"\x89PNG kept")
    with sqlite3.connect(files / "files.sqlite3") as db:
        db.execute(LEGACY_OBJECTS)
        db.execute(
            "INSERT INTO objects VALUES ('oldId123', 'a b.png', 'image/png', 'ready', 9, '\"e\"',"
            " 0, 0, NULL, NULL, NULL)"
        )
    db.close()
    with BackgroundEmulator(make_config(tmp_path)) as running:
        url = f"{running.url}/files/uploads/oldId123/a%20b.png"
        served = httpx.get(url)
        assert (served.status_code, served.content) == (200, b"\x89PNG kept")
        resolved = running.call(running.services.storage.resolve_local_url, url)
        assert resolved is not None and resolved.read_bytes() == b"\x89PNG kept"
        assert httpx.get(url.replace("a%20b", "other")).status_code == 404


def test_an_expiration_of_0_or_null_never_expires(emulator: BackgroundEmulator) -> None:
    """fal_client's source: "Backends treat None and 0 as no-expiration" (fal_client refuses
    0 itself; @fal-ai/client passes any number through)."""
    urls = []
    with httpx.Client(base_url=emulator.url, headers={"Authorization": "Key a:b"}) as http:
        for seconds in ("0", "0.0", "null", "60"):
            lifecycle = {"X-Fal-Object-Lifecycle": f'{{"expiration_duration_seconds": {seconds}}}'}
            body = {"file_name": "keep.txt", "content_type": "text/plain"}
            urls_of = http.post("/storage/upload/initiate", headers=lifecycle, json=body).json()
            put = httpx.put(
                urls_of["upload_url"], content=b"kept", headers={"Content-Type": "text/plain"}
            )
            assert put.status_code == 200
            urls.append(urls_of["file_url"])
    emulator.call(emulator.services.clock.advance, 10 * 365 * 86400)
    assert [httpx.get(url).status_code for url in urls[:3]] == [200, 200, 200]
    assert httpx.get(urls[3]).status_code != 200  # the control: 60 s did expire


def test_initial_acl_is_accepted_and_ignored(client: fal_client.SyncClient) -> None:
    """A gap, on purpose: fal applies ``initial_acl`` (``forbid``: access denied, ``hide``:
    treated as absent), the emulator accepts it and keeps every file public."""
    for decision in ("forbid", "hide"):
        acl = fal_client.client.StorageACL(default=decision)
        settings = fal_client.client.StorageSettings(initial_acl=acl)
        url = client.upload(b"acl", "text/plain", lifecycle=settings, fallback_repository=[])
        assert httpx.get(url).content == b"acl"


def test_uploads_are_not_checked_against_their_type(client: fal_client.SyncClient) -> None:
    """A gap, on purpose: v3b checks the bytes against the claimed type and rate-limits
    unrecognised binaries, with answers nobody captured; the emulator accepts any bytes."""
    for content_type in ("image/png", "video/mp4", "application/octet-stream"):
        data = os.urandom(512)
        url = client.upload(data, content_type, fallback_repository=[])
        assert httpx.get(url).content == data
