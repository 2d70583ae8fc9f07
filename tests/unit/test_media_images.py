"""Image inputs: data: URIs, the mock's storage, remote fetches, fal placeholders, bad images."""

from __future__ import annotations

import base64
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from mockserver.fal.catalogue import media_error_detail
from mockserver.media import MediaInputError
from mockserver.media import images as images_mod
from mockserver.media.images import (
    decode_image,
    frame_image,
    is_fal_media_url,
    load_image_input,
    parse_data_uri,
    placeholder_image,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}
# fal's sentences, quoted from the evidence (never from the emulator's tables):
DOWNLOAD_FAILED = (  # live captures of file_download_error (2026-04, 2026-08-13, 2026-09-29)
    "Failed to download the file. Please check if the URL is accessible and try again."
)
LOAD_FAILED = (  # fal-toolkit's ImageLoadException (fal-ai/fal, unmerged branch)
    "Failed to load the image. Please ensure the image file is not corrupted and is in a"
    " supported format."
)


def too_large(max_size: int) -> str:
    """fal-toolkit's FileTooLargeException sentence, for one limit."""
    return (
        f"File size exceeds the maximum allowed size of {max_size} bytes. "
        "Please upload a smaller file."
    )


def data_uri(name: str) -> str:
    path = FIXTURES / name
    return f"data:{MIME[path.suffix]};base64," + base64.b64encode(path.read_bytes()).decode()


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def load(url: str, *, remote: str = "placeholder", local=None, field: str = "image_url"):
    return await load_image_input(field, url, remote=remote, resolve_local_url=local)


async def refusal(url: str, error_type: str, field: str = "image_url", **kw) -> MediaInputError:
    with pytest.raises(MediaInputError) as info:
        source = await load(url, field=field, **kw)
        frame_image(source, 96, 54)
    err = info.value
    assert err.status_code == 422
    (entry,) = media_error_detail(err)
    assert entry["loc"] == ["body", field]
    assert entry["type"] == error_type
    assert entry["url"] == f"https://docs.fal.ai/errors#{error_type}"
    return err


async def expect_error(url: str, error_type: str, field: str = "image_url", **kw) -> dict:
    return media_error_detail(await refusal(url, error_type, field, **kw))[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://fal.media/files/x.png", True),
        ("https://v3.fal.media/files/rabbit/abc/start.png", True),
        ("https://v2.fal.media/files/x.png", True),
        ("https://v3b.fal.media/files/x.png", True),
        ("https://storage.googleapis.com/falserverless/model_tests/x.png", True),
        ("https://storage.googleapis.com/other-bucket/x.png", False),
        ("https://notfal.media/x.png", False),
        ("https://fal.media.evil.com/x.png", False),
        ("https://example.com/x.png", False),
    ],
)
def test_fal_media_hosts(url: str, expected: bool) -> None:
    assert is_fal_media_url(url) is expected


def test_data_uris_base64_and_percent_encoded() -> None:
    raw = (FIXTURES / "start.png").read_bytes()
    assert parse_data_uri("f", data_uri("start.png")) == raw
    wrapped = "data:image/png;base64," + "\n".join(
        base64.b64encode(raw).decode()[i : i + 76] for i in range(0, 200, 76)
    )
    assert parse_data_uri("f", wrapped) == base64.b64decode(base64.b64encode(raw)[:228])
    assert parse_data_uri("f", "data:,hello%20world") == b"hello world"


@pytest.mark.parametrize("name", ["start.png", "end.jpg", "portrait.webp", "anim.gif"])
async def test_each_format_loads_from_a_data_uri(name: str) -> None:
    source = await load(data_uri(name))
    assert source.digest.startswith("sha256:") and source.log_lines == ()
    assert decode_image("image_url", name, source.data).size == Image.open(FIXTURES / name).size


async def test_gif_uses_its_first_frame() -> None:
    image = decode_image("image_url", "anim.gif", (FIXTURES / "anim.gif").read_bytes())
    r, g, b = image.getpixel((5, 5))
    assert r > 200 and b < 60, "first frame is orange, the second blue"


async def test_alpha_is_flattened_onto_black() -> None:
    image = decode_image("image_url", "alpha.png", (FIXTURES / "alpha.png").read_bytes())
    assert image.mode == "RGB"
    assert image.getpixel((50, 50)) == (255, 255, 255)
    assert image.getpixel((150, 50)) == (0, 0, 0)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    upright = decode_image("image_url", "photo.jpg", buf.getvalue())
    assert upright.size == (20, 40)
    assert upright.getpixel((10, 5))[2] > 200, "the blue half ends up on top"


async def test_cover_fills_and_crops_the_centre() -> None:
    source = await load(data_uri("start.png"))  # 320x200 into 9:16: keeps the middle columns
    frame = frame_image(source, 90, 160)
    assert frame.size == (90, 160)
    expected = ImageOps.fit(Image.open(FIXTURES / "start.png").convert("RGB"), (90, 160))
    assert mean_abs_diff(frame, expected) < 1


async def test_local_storage_urls_resolve_through_the_app() -> None:
    url = "http://127.0.0.1:8000/files/storage/abc/end.jpg"
    source = await load(url, local=lambda u: FIXTURES / "end.jpg" if u == url else None)
    assert source.data == (FIXTURES / "end.jpg").read_bytes()


async def test_missing_local_file_is_a_download_error() -> None:
    gone = FIXTURES / "gone.png"
    await expect_error("http://mock/files/gone.png", "file_download_error", local=lambda u: gone)


async def test_fal_hosts_become_deterministic_placeholders_offline() -> None:
    url = "https://v3.fal.media/files/rabbit/abc/start.png"
    a, b = await load(url), await load(url)
    other = await load("https://v3.fal.media/files/rabbit/xyz/other.png")
    assert a.data is None and a.digest == b.digest != other.digest
    assert "v3.fal.media" in a.log_lines[0] and "placeholder" in a.log_lines[0]
    pa, pb = placeholder_image(url, 320, 180), placeholder_image(url, 320, 180)
    assert pa.tobytes() == pb.tobytes()
    assert mean_abs_diff(pa, placeholder_image(other.url, 320, 180)) > 5


async def test_unreachable_fal_host_with_fetching_on_is_a_placeholder(monkeypatch) -> None:
    async def unreachable(field: str, url: str, *_: object) -> bytes:
        raise images_mod._Unreachable("ConnectError: offline")

    monkeypatch.setattr(images_mod, "fetch_url", unreachable)
    source = await load("https://fal.media/files/koala/x.jpg", remote="fetch")
    assert source.data is None and "unreachable offline" in source.log_lines[0]


async def test_other_hosts_get_a_placeholder_offline_by_default() -> None:
    url = "https://my-bucket.s3.amazonaws.com/users/cat.png"
    source = await load(url)
    assert source.data is None and "placeholder" in source.log_lines[0]
    assert (await load(url)).digest == source.digest  # deterministic: same URL, same picture


async def test_other_hosts_are_refused_when_strict() -> None:
    err = await refusal("https://example.com/cat.png", "file_download_error", remote="fail")
    assert media_error_detail(err) == [
        {
            "loc": ["body", "image_url"],
            "msg": DOWNLOAD_FAILED,
            "type": "file_download_error",
            "url": "https://docs.fal.ai/errors#file_download_error",
            "input": "https://example.com/cat.png",
        }
    ]
    assert "--remote-images" in err.notes[0]  # the reason: the emulator's notes, not the msg
    fal_media = await load("https://v3.fal.media/files/rabbit/x.png", remote="fail")
    assert fal_media.data is None  # fal's own page examples keep working offline


async def test_a_long_url_is_echoed_whole() -> None:
    """Live bodies echo the URL as sent (cap-fdl-*); only data: URIs may be cut [INF]."""
    url = "https://example.com/" + "deep/" * 40 + "cat.png"
    entry = await expect_error(url, "file_download_error", remote="fail")
    assert entry["input"] == url


@pytest.mark.parametrize("url", ["ftp://example.com/x.png", "file:///etc/passwd", "/etc/passwd"])
async def test_unsupported_schemes_are_download_errors(url: str) -> None:
    await expect_error(url, "file_download_error", remote="fetch")


@pytest.mark.parametrize(
    ("name", "error_type"),
    [("truncated.png", "image_load_error"), ("not-an-image.png", "image_load_error")],
)
async def test_broken_images(name: str, error_type: str) -> None:
    raw = base64.b64encode((FIXTURES / name).read_bytes()).decode()
    await expect_error(f"data:image/png;base64,{raw}", error_type, field="end_image_url")


async def test_unsupported_format_is_a_load_error(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "x.bmp")
    raw = base64.b64encode((tmp_path / "x.bmp").read_bytes()).decode()
    err = await refusal(f"data:image/bmp;base64,{raw}", "image_load_error")
    assert media_error_detail(err)[0]["msg"] == LOAD_FAILED and "BMP" in err.notes[0]


async def test_too_many_pixels_is_image_too_large(monkeypatch) -> None:
    monkeypatch.setattr(images_mod, "MAX_IMAGE_SIDE", 100)
    entry = await expect_error(data_uri("start.png"), "image_too_large")
    assert entry["msg"] == "Image too large"  # fal's docs and toolkit
    assert list(entry["ctx"].items()) == [("max_height", 100), ("max_width", 100)]


async def test_too_many_bytes_is_file_too_large(monkeypatch) -> None:
    monkeypatch.setattr(images_mod, "MAX_IMAGE_BYTES", 500)
    entry = await expect_error(data_uri("end.jpg"), "file_too_large")
    assert entry["msg"] == too_large(500) and entry["ctx"] == {"max_size": 500}
    assert len(entry["input"]) < 200, "huge data: URIs are not echoed back whole"


# -- remote fetching against a real loopback HTTP server ------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {
        "/start.png": ("image/png", (FIXTURES / "start.png").read_bytes()),
        "/octet.png": ("application/octet-stream", (FIXTURES / "start.png").read_bytes()),
        "/page.html": ("text/html", b"<html>not an image</html>"),
        "/big.jpg": ("image/jpeg", (FIXTURES / "end.jpg").read_bytes()),
    }

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path not in self.routes:
            self.send_error(404)
            return
        ctype, body = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/start.png", "/octet.png"])
async def test_remote_fetch_when_allowed(http_base: str, path: str) -> None:
    source = await load(http_base + path, remote="fetch")
    assert source.data == (FIXTURES / "start.png").read_bytes()
    assert source.log_lines == ("image_url fetched from 127.0.0.1",)


async def test_remote_fetch_checks_status_type_and_size(http_base: str, monkeypatch) -> None:
    await expect_error(http_base + "/missing.png", "file_download_error", remote="fetch")
    err = await refusal(http_base + "/page.html", "file_download_error", remote="fetch")
    assert media_error_detail(err)[0]["msg"] == DOWNLOAD_FAILED and "text/html" in err.notes[0]
    monkeypatch.setattr(images_mod, "MAX_IMAGE_BYTES", 1000)
    entry = await expect_error(http_base + "/big.jpg", "file_too_large", remote="fetch")
    assert entry["ctx"] == {"max_size": 1000}


async def test_refused_connection_is_a_download_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = await refusal(f"http://127.0.0.1:{port}/x.png", "file_download_error", remote="fetch")
    assert media_error_detail(err)[0]["msg"] == DOWNLOAD_FAILED and "unreachable" in err.notes[0]
