"""Input images (and the bytes of any input file): where they come from, what is an error.

Sources, tried in this order:
- `data:` URIs (what `fal_client.encode*` produce): decoded in memory.
- URLs of the mock's own storage and outputs: `resolve_local_url(url)` (from the app) maps them
  to a file.
- Any other http(s) URL, by the `remote` policy (`--remote-images`):
  - `placeholder` (the default: offline and deterministic): not fetched; the image is a
    placeholder drawn from the URL, and the emulator says so in its log, the journal and the
    dashboard (never in the model's logs). Users' tests point at their own buckets and CDNs;
    this lets them run offline exactly as they are written.
  - `fetch`: fetched for real (timeout, size cap, content-type check). fal's own media hosts
    (`fal.media`, `*.fal.media`, `storage.googleapis.com/falserverless`) fall back to the
    placeholder when unreachable, so fal's page examples still work offline; an error status
    from any host is a real error, as on fal.
  - `fail`: fal's own media hosts get the placeholder, any other host is refused with fal's
    `file_download_error`, as a machine without network access would see it.

Errors (all 422, loc ["body", field], fal's detail shape, ``mockserver.fal.catalogue``). The
``msg`` is fal's fixed sentence; why the emulator refused goes to its notes (server log, journal
``emulator_notes``, dashboard), never into the body:
- `file_download_error`: the bytes could not be obtained: fetching is off for that host, the host is
  unreachable or answered non-2xx, the content type is not an image, the data: URI is malformed,
  or the local file is missing.
- `file_too_large`: the file exceeds MAX_IMAGE_BYTES (ctx.max_size), fal-toolkit's type for it.
- `image_load_error`: bytes arrived but are not a PNG/JPEG/WebP/GIF image Pillow can decode.
- `image_too_large`: decodable, but a side exceeds MAX_IMAGE_SIDE (ctx.max_height/max_width),
  fal's documented type for this case.

Bytes are hashed into the cache key on the event loop (cheap); decoding and scaling happen in the
render thread, so a broken image fails its render and is never cached.

Input videos (``videos.py``) come from the same sources by the same rules (``load_input`` with
``VIDEO``); only their size limit, accepted content types and too-large error differ.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import colorsys
import hashlib
import io
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mockserver.config import RemoteImages

if TYPE_CHECKING:  # PIL is imported where it draws: start-up draws nothing
    from PIL import Image

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # not published by fal for Ray 2; generous for real stills
MAX_IMAGE_SIDE = 8192  # pixels per side, well under Pillow's decompression-bomb limit
FETCH_TIMEOUT_S = 10.0
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})
ACCEPTED_CONTENT_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")

# fal's media hosts: (host suffix, required path prefix). Data, so a new host is a one-line change.
FAL_MEDIA_HOSTS: tuple[tuple[str, str], ...] = (
    ("fal.media", ""),  # fal.media, v2.fal.media, v3.fal.media, v3b.fal.media, ...
    ("storage.googleapis.com", "/falserverless"),
)
FAL_EXAMPLE_MEDIA: tuple[str, ...] = (
    # inputs: image-to-video image_url, modify image_url, reframe/modify video_url
    "https://fal.media/files/elephant/8kkhB12hEZI2kkbU8pZPA_test.jpeg",
    "https://fal.media/files/koala/Kv2821G03ggpKK2AiZX71_d5fa7bacf06049cfaeb9588f6003b6d5.jpg",
    "https://v3.fal.media/files/zebra/9aDde3Te2kuJYHdR0Kz8R_output.mp4",
    # outputs: text-to-video, reframe, modify (image-to-video's is the zebra above)
    "https://v3.fal.media/files/penguin/Om3xjcOwiSCJwrXs7DUi__output.mp4",
    "https://v3.fal.media/files/lion/L9nkXSW1MCj2oDimeJ4w5_output.mp4",
    "https://v3.fal.media/files/lion/_2UO2QC26T_R8vKeVGAdX_output.mp4",
)
"""The media URLs in fal's published Ray 2 examples (its OpenAPI ``examples``): the CDN route
answers them with the placeholder the input path draws for them, so a client that downloads an
example it read from the published document gets a file, as it would live."""
PLACEHOLDER_IMAGE_SIZE = (960, 540)
"""A placeholder image served for download: Ray 2's default output size [INF]."""

PLACEHOLDER_VERSION = 1


@dataclass(frozen=True)
class InputKind:
    """What one kind of input file may be: its content types and size limit."""

    noun: str
    content_types: tuple[str, ...]
    max_bytes: int | None = None
    """None: ``MAX_IMAGE_BYTES``, read when used (tests lower it)."""

    def limit(self) -> int:
        return MAX_IMAGE_BYTES if self.max_bytes is None else self.max_bytes


IMAGE = InputKind("image", ACCEPTED_CONTENT_TYPES)


class MediaInputError(Exception):
    """An input-caused failure: the app answers it as fal's model error (a 422), never a 500.

    Media says what went wrong with which input; how fal writes that on the wire (the entry's
    ``url``, its key order, the headers) is the fal layer's (``fal.catalogue``). ``msg`` None
    means the error type's own message, the same whatever the cause."""

    def __init__(
        self,
        field: str,
        error_type: str,
        msg: str | None = None,
        input_value: Any = None,
        *,
        ctx: dict[str, Any] | None = None,
        why: str | None = None,
        status_code: int = 422,
    ) -> None:
        super().__init__(f"{field}: {why or msg or error_type}")
        self.field = field
        self.error_type = error_type
        self.msg = msg
        self.input_value = input_value
        self.ctx = ctx
        self.status_code = status_code
        self.notes: tuple[str, ...] = (f"{field} refused ({error_type}): {why}",) if why else ()
        """Why, in the emulator's words: for its log and journal, not the client's body."""


@dataclass(frozen=True)
class ImageInput:
    """One image argument resolved to bytes (or a placeholder), with a digest for the cache key."""

    field: str
    url: str
    digest: str
    data: bytes | None  # None: draw the placeholder for `url`
    log_lines: tuple[str, ...] = ()


def _download_error(field: str, url: str, why: str) -> MediaInputError:
    return MediaInputError(field, "file_download_error", None, url, why=why)


def _too_big(field: str, url: str, kind: InputKind = IMAGE) -> MediaInputError:
    """fal-toolkit's ``FileTooLargeException`` (its sentence; fal's docs show "File too large")."""
    limit = kind.limit()
    return MediaInputError(
        field,
        "file_too_large",
        f"File size exceeds the maximum allowed size of {limit} bytes. Please upload a smaller"
        " file.",
        url,
        ctx={"max_size": limit},
        why=f"the {kind.noun} exceeds {limit} bytes",
    )


def is_fal_media_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    return any(
        (host == suffix or host.endswith("." + suffix)) and parts.path.startswith(prefix)
        for suffix, prefix in FAL_MEDIA_HOSTS
    )


def parse_data_uri(field: str, uri: str, kind: InputKind = IMAGE) -> bytes:
    header, sep, payload = uri[len("data:") :].partition(",")
    if not sep:
        raise _download_error(field, uri, "malformed data: URI (no comma)")
    if len(payload) * 3 // 4 > kind.limit():
        raise _too_big(field, uri, kind)
    if ";base64" in header.lower():
        text = "".join(urllib.parse.unquote(payload).split())
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        except (binascii.Error, ValueError):
            raise _download_error(field, uri, "malformed base64 in data: URI") from None
    return urllib.parse.unquote_to_bytes(payload)


class _Unreachable(Exception):
    """The host could not be reached at all (as opposed to answering with an error)."""


async def fetch_url(field: str, url: str, kind: InputKind = IMAGE) -> bytes:
    """GET with a timeout, a size cap and a content-type check. Ignores proxy env vars on purpose:
    `ray2-mock env` may point HTTPS_PROXY at the mock itself."""
    try:
        async with (
            httpx.AsyncClient(
                timeout=FETCH_TIMEOUT_S, follow_redirects=True, max_redirects=5, trust_env=False
            ) as client,
            client.stream("GET", url) as resp,
        ):
            if resp.status_code != 200:
                raise _download_error(field, url, f"HTTP {resp.status_code}")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            if not ctype.startswith(kind.content_types):
                raise _download_error(field, url, f"content type {ctype or 'missing'!r}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > kind.limit():
                raise _too_big(field, url, kind)
            chunks, total = [], 0
            async for chunk in resp.aiter_bytes():
                total += len(chunk)
                if total > kind.limit():
                    raise _too_big(field, url, kind)
                chunks.append(chunk)
            return b"".join(chunks)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise _Unreachable(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise _download_error(field, url, f"{type(exc).__name__}: {exc}") from exc


def _read_local(field: str, url: str, path: Path, kind: InputKind = IMAGE) -> bytes:
    try:
        if path.stat().st_size > kind.limit():
            raise _too_big(field, url, kind)
        return path.read_bytes()
    except OSError:
        raise _download_error(field, url, "file not found in the mock's storage") from None


def _with_bytes(field: str, url: str, data: bytes, *log: str) -> ImageInput:
    return ImageInput(field, url, "sha256:" + hashlib.sha256(data).hexdigest(), data, log)


def _placeholder(field: str, url: str, why: str, kind: InputKind = IMAGE) -> ImageInput:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    host = urllib.parse.urlsplit(url).hostname
    line = f"{field} host {host} {why}; using a deterministic placeholder {kind.noun}"
    return ImageInput(field, url, f"placeholder-v{PLACEHOLDER_VERSION}:{digest}", None, (line,))


async def load_image_input(
    field: str,
    url: str,
    *,
    remote: RemoteImages,
    resolve_local_url: Callable[[str], Path | None] | None,
) -> ImageInput:
    """Resolve one image argument to bytes or a placeholder; raise MediaInputError if impossible."""
    return await load_input(field, url, remote=remote, resolve_local_url=resolve_local_url)


async def load_input(
    field: str,
    url: str,
    *,
    remote: RemoteImages,
    resolve_local_url: Callable[[str], Path | None] | None,
    kind: InputKind = IMAGE,
) -> ImageInput:
    """Resolve one file argument to bytes or a placeholder; raise MediaInputError if impossible."""
    if url.startswith("data:"):
        data = parse_data_uri(field, url, kind)
        return _with_bytes(field, url, data)
    local = resolve_local_url(url) if resolve_local_url else None
    if local is not None:
        data = await asyncio.to_thread(_read_local, field, url, Path(local), kind)
        return _with_bytes(field, url, data)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise _download_error(field, url, f"unsupported URL scheme {scheme or 'none'!r}")
    fal_host = is_fal_media_url(url)
    if remote == "placeholder":
        return _placeholder(field, url, "not fetched (--remote-images placeholder)", kind)
    if remote == "fail":
        if fal_host:
            return _placeholder(field, url, "not fetched (fal media offline)", kind)
        raise _download_error(
            field,
            url,
            "remote fetching is off in the mock (--remote-images fail; use fetch or "
            "placeholder, upload the file to the mock's storage, or pass a data: URI)",
        )
    try:
        data = await fetch_url(field, url, kind)
    except _Unreachable as exc:
        if fal_host:
            return _placeholder(field, url, f"unreachable offline ({exc})", kind)
        raise _download_error(field, url, f"host unreachable ({exc})") from None
    host = urllib.parse.urlsplit(url).hostname
    return _with_bytes(field, url, data, f"{field} fetched from {host}")


# ---------------------------------------------------------------------------------------------
# Decoding and drawing (blocking; called from the render thread)


def decode_image(field: str, url: str, data: bytes) -> Image.Image:
    """Decode the first frame to RGB (alpha flattened onto black, EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # on first use: start-up draws nothing

    def load_error(why: str) -> MediaInputError:
        return MediaInputError(field, "image_load_error", None, url, why=why)

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise load_error(f"unsupported format {image.format}; use PNG, JPEG, WebP or GIF")
            width, height = image.size
            if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
                raise MediaInputError(
                    field,
                    "image_too_large",
                    "Image too large",
                    url,
                    ctx={"max_height": MAX_IMAGE_SIDE, "max_width": MAX_IMAGE_SIDE},
                    why=f"{width}x{height} exceeds {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}",
                )
            image.seek(0)  # GIF/WebP animations: the first frame
            if image.mode in ("RGBA", "LA", "PA", "La") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                frame = Image.new("RGB", rgba.size, (0, 0, 0))
                frame.paste(rgba, mask=rgba.getchannel("A"))
            else:
                frame = image.convert("RGB")
            frame.info["exif"] = image.info.get("exif", b"")
            return ImageOps.exif_transpose(frame) if frame.info["exif"] else frame
    except MediaInputError:
        raise
    except Image.DecompressionBombError:
        raise load_error("image has too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise load_error(f"not a decodable image ({type(exc).__name__})") from None


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width×height and crop the centre: the frame is filled, nothing is padded.

    Same result as ImageOps.fit, in one resize of the crop box; reducing_gap makes large
    downscales (a 4000 px photo into 960x540) several times cheaper at no visible cost."""
    from PIL import Image  # on first use: start-up draws nothing

    src_w, src_h = image.size
    scale = max(width / src_w, height / src_h)
    crop_w, crop_h = width / scale, height / scale
    left, top = (src_w - crop_w) / 2, (src_h - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.resize((width, height), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def placeholder_image(url: str, width: int, height: int, noun: str = "image") -> Image.Image:
    """A gradient in URL-seeded colours with the URL's file name: the same URL, the same picture."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps  # on first use: start-up draws nothing

    seed = hashlib.sha256(url.encode("utf-8")).digest()
    hue = seed[0] / 255

    def rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return round(r * 255), round(g * 255), round(b * 255)

    ramp = Image.linear_gradient("L").rotate(seed[1] % 4 * 90)
    ramp = ramp.resize((width, height), Image.Resampling.BICUBIC)
    image = ImageOps.colorize(ramp, rgb(hue, 0.6, 0.25), rgb(hue + 0.33, 0.5, 0.85)).convert("RGB")
    draw = ImageDraw.Draw(image)
    short = min(width, height)
    font = ImageFont.load_default(size=max(12, short // 18))
    parts = urllib.parse.urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1] or parts.hostname or "image"
    for i, line in enumerate((f"placeholder {noun}", name[:40])):
        draw.text(
            (width // 2, height // 2 + (i - 0.5) * short // 12),
            line,
            font=font,
            fill="white",
            anchor="mm",
        )
    return image


def placeholder_jpeg(url: str) -> bytes:
    """The placeholder image for ``url`` as a JPEG file: what the CDN serves for fal's published
    example images (the picture an ``image_url`` pointing there stands for)."""
    buffer = io.BytesIO()
    placeholder_image(url, *PLACEHOLDER_IMAGE_SIZE).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def frame_image(source: ImageInput, width: int, height: int) -> Image.Image:
    """The still for a first/last frame, at the output size."""
    if source.data is None:
        return placeholder_image(source.url, width, height)
    return cover(decode_image(source.field, source.url, source.data), width, height)
