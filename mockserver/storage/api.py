"""fal's storage API as the unmodified clients call it: CDN tokens, uploads, multipart, serving.

Routes (shapes verified against fal-client 1.0.3 and @fal-ai/client 1.10.1, protocol notes §10):

- ``POST rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3`` → a Bearer token for the CDN.
- ``POST v3.fal.media/files/upload`` (Bearer) → ``{"access_url"}``: Python's single upload.
- ``POST {base_url}/files/upload/multipart`` (Bearer) → ``{"access_url", "uploadId"}``, then
  ``PUT {access_url}/multipart/{uploadId}/{n}`` (answers an ``ETag`` header for Python and a
  ``{"partNumber", "etag"}`` body for JS) and ``POST …/complete`` with the parts list.
- ``POST rest.fal.ai/storage/upload/initiate[?storage_type=…]`` (Key) →
  ``{"upload_url", "file_url"}``, then ``PUT upload_url``: Python's fallback and JS's path.
- ``POST rest.fal.ai/storage/upload/initiate-multipart`` (Key): JS's large files; its
  ``upload_url`` is the multipart URL above, so both clients share one part/complete route.
- ``GET|HEAD {file_url}``: the bytes, with Range support, until the object expires.

URLs are built from the incoming request: on fal's hosts they look like fal's CDN
(``https://v3.fal.media/files/uploads/…``), on a loopback address they point at this server,
so the JS client's raw ``fetch`` PUTs (which bypass its proxy) reach it directly.
An uploaded file used as ``image_url`` or ``video_url`` is read from disk via
``resolve_local_url``, and so is a generated output fed back in (``/files/b/<shard>/<id>_<name>``,
what a reframe of an earlier clip sends).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import mimetypes
import re
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.bodies import read_json_object
from mockserver.config import Config
from mockserver.fal.auth import check_key
from mockserver.fal.errors import request_error, validation_error
from mockserver.fal.hosts import HOST_ROLES, is_loopback, public_base
from mockserver.services import services
from mockserver.serving.routing import MethodTableRoute
from mockserver.storage.files import (
    FILE_ID_LENGTH,
    FileStore,
    Part,
    StoredObject,
    quoted_etag,
    same_etag,
)

FILES_PREFIX = "/files/uploads"
STORAGE_TYPES = ("fal-cdn-v3", "fal-cdn", "gcs")
TOKEN_SECONDS = 3600.0
"""Lifetime of a CDN token (fal's is not published; the Python client refreshes on expiry)."""
UPLOAD_URL_SECONDS = 3600.0
"""Lifetime of a signed ``upload_url`` from initiate, like a GCS signed URL."""
TOKEN_REFUSALS = {
    "unknown": ("Invalid CDN token", "invalid_token"),
    "expired": ("CDN token expired: request a new one from /storage/auth/token", "token_expired"),
}
MAX_PART_NUMBER = 10_000  # S3's limit, which fal's multipart API mirrors
LIFECYCLE_HEADERS = ("x-fal-object-lifecycle-preference", "x-fal-object-lifecycle")
"""Python sends both on uploads, JS the second on initiate, JS queue calls the first."""
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
OBJECT_PATH = re.compile(rf"^{FILES_PREFIX}/(?P<object_id>[A-Za-z0-9_-]+)/(?P<name>[^/]+)$")
OUTPUT_FILE_PATH = re.compile(
    rf"^/files/b/(?P<shard>[0-9a-f]+)/(?P<file_id>[A-Za-z0-9_-]{{{FILE_ID_LENGTH}}})_(?P<name>[^/]+)$"
)
"""A generated file on the emulated CDN (``fal.hosts.OUTPUT_PATH``)."""


def _json_safe(value: Any) -> Any:
    """Echoed inputs may hold NaN/Infinity (Python's json accepts them); JSON output cannot."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _entry(loc: list[Any], msg: str, kind: str, value: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"loc": loc, "msg": msg, "type": kind}
    if value is not None:
        entry["input"] = _json_safe(value)
    return entry


def _media_type(value: str | None) -> str | None:
    """The media type if ``value`` is a well-formed ``type/subtype[; params]``, else None."""
    main = (value or "").split(";", 1)[0].strip().lower()
    return main if MEDIA_TYPE.match(main) else None


def _unsupported(value: str | None, where: str) -> Response:
    return request_error(
        415,
        f"Content-Type {value!r} {where} is not a valid media type (expected type/subtype, "
        "e.g. image/png or application/octet-stream)",
        "unsupported_media_type",
    )


def safe_name(raw: str | None, media_type: str) -> str:
    """A file name that is one URL path segment; fal's clients send a basename or nothing."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    if name in ("", ".", ".."):
        name = "upload" + (mimetypes.guess_extension(media_type) or ".bin")
    return name


def object_url(base: str, obj: StoredObject) -> str:
    return f"{base}{FILES_PREFIX}/{obj.object_id}/{urllib.parse.quote(obj.file_name)}"


def lifecycle_seconds(request: Request) -> float | None | Response:
    """``expiration_duration_seconds`` from the lifecycle header, or a 422 explaining why not."""
    for name in LIFECYCLE_HEADERS:
        raw = request.headers.get(name)
        if raw is None:
            continue
        loc = ["header", name]
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return validation_error([_entry(loc, "Invalid JSON", "json_invalid", raw)])
        if not isinstance(value, dict):
            return validation_error(
                [_entry(loc, "Input should be a valid dictionary", "dict_type", value)]
            )
        seconds = value.get("expiration_duration_seconds")
        if seconds is None:
            return None
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            return validation_error(
                [
                    _entry(
                        [*loc, "expiration_duration_seconds"],
                        "Input should be a number greater than 0",
                        "greater_than",
                        seconds,
                    )
                ]
            )
        return float(seconds)
    return None


async def receive_body(request: Request, dest: Path, limit: int) -> tuple[int, str] | Response:
    """Stream the body to ``dest`` (size, MD5 hex) or refuse it with 413.

    An oversize body is still read to its end (and dropped): answering mid-upload would
    reset the connection, which the Python client treats as a transport error and retries.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with dest.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limit:
                    md5.update(chunk)
                    out.write(chunk)
    except ClientDisconnect:
        dest.unlink(missing_ok=True)
        return request_error(400, "Client disconnected before sending the body", "bad_request")
    if size > limit:
        dest.unlink(missing_ok=True)
        return request_error(
            413, f"Upload exceeds the emulator's limit of {limit} bytes", "payload_too_large"
        )
    return size, md5.hexdigest()


class Storage:
    """The storage handlers over one ``FileStore``; ``Services.storage`` holds the instance."""

    def __init__(self, store: FileStore, config: Config) -> None:
        self.store = store
        self.config = config

    @property
    def limit(self) -> int:
        return self.config.max_upload_bytes

    # -- shared checks --------------------------------------------------------------------------

    def _key_auth(self, request: Request) -> Response | None:
        return check_key(request.headers.get("authorization", ""), self.config.api_key)

    def _bearer_auth(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return request_error(
                401,
                "Missing CDN token: expected 'Authorization: Bearer <token>' "
                "from POST /storage/auth/token",
                "unauthorized",
            )
        refusal = TOKEN_REFUSALS.get(self.store.check_token(token.strip()))
        return None if refusal is None else request_error(401, *refusal)

    def _storage_type(self, request: Request) -> Response | None:
        value = request.query_params.get("storage_type")
        if value is None or value in STORAGE_TYPES:
            return None
        expected = ", ".join(f"'{t}'" for t in STORAGE_TYPES)
        return validation_error(
            [
                {
                    **_entry(
                        ["query", "storage_type"],
                        f"Input should be {expected}",
                        "literal_error",
                        value,
                    ),
                    "ctx": {"expected": expected},
                }
            ]
        )

    def _object_for_path(self, request: Request) -> StoredObject | Response:
        """The object a file URL names (pending or ready), or fal's 404 / 410."""
        obj = self.store.get(request.path_params["object_id"])
        if obj is None or obj.file_name != request.path_params["name"]:
            return request_error(404, "File not found", "file_not_found")
        if obj.expired(self.store.clock.now()):
            if obj.state != "expired":
                self.store.expire(obj)
            return request_error(410, "File has expired (object lifecycle)", "file_expired")
        return obj

    # -- REST host ------------------------------------------------------------------------------

    async def auth_token(self, request: Request) -> Response:
        if (refused := self._key_auth(request) or self._storage_type(request)) is not None:
            return refused
        token, expires_at = self.store.issue_token(TOKEN_SECONDS)
        return JSONResponse(
            {
                "token": token,
                "token_type": "Bearer",
                "base_url": public_base(request),
                # +00:00, not Z: datetime.fromisoformat before 3.11 rejects "Z".
                "expires_at": datetime.fromtimestamp(expires_at, UTC).isoformat(),
            }
        )

    async def initiate(self, request: Request) -> Response:
        return await self._initiate(request, multipart=False)

    async def initiate_multipart(self, request: Request) -> Response:
        return await self._initiate(request, multipart=True)

    async def _initiate(self, request: Request, *, multipart: bool) -> Response:
        if (refused := self._key_auth(request) or self._storage_type(request)) is not None:
            return refused
        body = await read_json_object(request)
        if isinstance(body, Response):
            return body
        problems = [
            _entry(["body", field], "Field required", "missing")
            for field in ("content_type", "file_name")
            if field not in body
        ] + [
            _entry(["body", field], "Input should be a valid string", "string_type", body[field])
            for field in ("content_type", "file_name")
            if field in body and not isinstance(body[field], str)
        ]
        if problems:
            return validation_error(problems)
        media_type = _media_type(body["content_type"])
        if media_type is None:
            return _unsupported(body["content_type"], "in body.content_type")
        lifetime = lifecycle_seconds(request)
        if isinstance(lifetime, Response):
            return lifetime
        obj = self.store.create(
            safe_name(body["file_name"], media_type),
            body["content_type"].strip(),
            lifetime_seconds=lifetime,
            upload_url_seconds=None if multipart else UPLOAD_URL_SECONDS,
        )
        file_url = object_url(public_base(request), obj)
        if multipart:
            upload_url = f"{file_url}/multipart/{self.store.start_multipart(obj)}"
        else:
            upload_url = f"{file_url}?signature={obj.upload_secret}"
        return JSONResponse({"upload_url": upload_url, "file_url": file_url})

    # -- CDN host -------------------------------------------------------------------------------

    async def cdn_upload(self, request: Request) -> Response:
        """Python's single-request upload: bytes in, ``access_url`` out."""
        obj = self._new_cdn_object(request)
        if isinstance(obj, Response):
            return obj
        stored = await self._store_body(request, obj)
        if isinstance(stored, Response):
            return stored
        return JSONResponse({"access_url": object_url(public_base(request), obj)})

    async def cdn_multipart_start(self, request: Request) -> Response:
        obj = self._new_cdn_object(request)
        if isinstance(obj, Response):
            return obj
        upload_id = self.store.start_multipart(obj)
        return JSONResponse(
            {"access_url": object_url(public_base(request), obj), "uploadId": upload_id}
        )

    def _new_cdn_object(self, request: Request) -> StoredObject | Response:
        """A new object for a CDN-token upload, or the refusal (token, media type, lifecycle)."""
        if (refused := self._bearer_auth(request)) is not None:
            return refused
        content_type = request.headers.get("content-type")
        media_type = _media_type(content_type)
        if media_type is None:
            return _unsupported(content_type, "of the upload")
        lifetime = lifecycle_seconds(request)
        if isinstance(lifetime, Response):
            return lifetime
        name = safe_name(request.headers.get("x-fal-file-name"), media_type)
        return self.store.create(name, (content_type or "").strip(), lifetime_seconds=lifetime)

    async def put_object(self, request: Request) -> Response:
        """The signed ``upload_url`` from initiate: one PUT of the whole file (repeatable)."""
        obj = self._object_for_path(request)
        if isinstance(obj, Response):
            return obj
        if not self.store.upload_secret_matches(obj, request.query_params.get("signature", "")):
            return request_error(
                403, "Invalid upload signature for this file", "invalid_upload_signature"
            )
        if obj.upload_expires_at is not None and self.store.clock.now() >= obj.upload_expires_at:
            return request_error(403, "Upload URL has expired", "upload_url_expired")
        content_type = request.headers.get("content-type")
        if _media_type(content_type) != _media_type(obj.content_type):
            return request_error(
                415,
                f"Content-Type {content_type!r} differs from {obj.content_type!r} declared at "
                "initiate",
                "unsupported_media_type",
            )
        stored = await self._store_body(request, obj)
        if isinstance(stored, Response):
            return stored
        return Response(status_code=200, headers={"etag": stored})

    async def _store_body(self, request: Request, obj: StoredObject) -> str | Response:
        """The request body becomes ``obj``'s file: its quoted ETag, or the refusal (size)."""
        incoming = self.store.incoming_path()
        received = await receive_body(request, incoming, self.limit)
        if isinstance(received, Response):
            return received
        size, md5_hex = received
        etag = quoted_etag(md5_hex)
        self.store.finish(obj, incoming, size, etag)
        self.store.sweep()
        return etag

    def _multipart_object(self, request: Request) -> tuple[StoredObject, str] | Response:
        obj = self._object_for_path(request)
        if isinstance(obj, Response):
            return obj
        upload_id = request.path_params["upload_id"]
        if self.store.multipart_object(upload_id) != obj.object_id:
            return request_error(
                404, f"No multipart upload {upload_id!r} for this file", "upload_not_found"
            )
        return obj, upload_id

    async def put_part(self, request: Request) -> Response:
        found = self._multipart_object(request)
        if isinstance(found, Response):
            return found
        _, upload_id = found
        raw = request.path_params["part"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            return validation_error(
                [
                    _entry(
                        ["path", "part_number"],
                        f"Part number should be an integer from 1 to {MAX_PART_NUMBER}",
                        "int_parsing",
                        raw,
                    )
                ]
            )
        number = int(raw)
        others = sum(p.size for n, p in self.store.parts(upload_id).items() if n != number)
        incoming = self.store.incoming_path()
        received = await receive_body(request, incoming, max(self.limit - others, 0))
        if isinstance(received, Response):
            return received
        size, md5_hex = received
        etag = quoted_etag(md5_hex)
        self.store.save_part(upload_id, Part(number, size, etag), incoming)
        return JSONResponse({"partNumber": number, "etag": etag}, headers={"etag": etag})

    async def complete(self, request: Request) -> Response:
        found = self._multipart_object(request)
        if isinstance(found, Response):
            return found
        obj, upload_id = found
        body = await read_json_object(request)
        if isinstance(body, Response):
            return body
        listed = self._listed_parts(body)
        if isinstance(listed, Response):
            return listed
        stored = self.store.parts(upload_id)
        for number, etag in listed:
            part = stored.get(number)
            if part is None or not same_etag(part.etag, etag):
                return request_error(
                    400,
                    f"Part {number} was not uploaded with ETag {etag!r}",
                    "invalid_part",
                )
        total = sum(stored[number].size for number, _ in listed)
        if total > self.limit:  # parts sent in parallel can each pass the per-part check
            return request_error(
                413,
                f"Upload exceeds the emulator's limit of {self.limit} bytes",
                "payload_too_large",
            )
        incoming = self.store.incoming_path()
        paths = [self.store.part_path(upload_id, number) for number, _ in listed]
        size, md5_hex = await asyncio.to_thread(_concatenate, paths, incoming)
        self.store.finish(obj, incoming, size, quoted_etag(md5_hex), parts=len(listed))
        self.store.end_multipart(upload_id)
        self.store.sweep()
        return JSONResponse({"access_url": object_url(public_base(request), obj)})

    @staticmethod
    def _listed_parts(body: dict[str, Any]) -> list[tuple[int, str]] | Response:
        """The parts list, sorted: Python sends it in completion order, not part order."""
        parts = body.get("parts")
        if not isinstance(parts, list) or not parts:
            return validation_error(
                [_entry(["body", "parts"], "Input should be a non-empty list", "list_type", parts)]
            )
        listed: dict[int, str] = {}
        for index, item in enumerate(parts):
            number = item.get("partNumber") if isinstance(item, dict) else None
            etag = item.get("etag") if isinstance(item, dict) else None
            if isinstance(number, bool) or not isinstance(number, int) or not isinstance(etag, str):
                return validation_error(
                    [
                        _entry(
                            ["body", "parts", index],
                            "Each part needs an integer partNumber and a string etag",
                            "model_type",
                            item,
                        )
                    ]
                )
            if number in listed:
                return request_error(400, f"Part {number} is listed twice", "invalid_part")
            listed[number] = etag
        return sorted(listed.items())

    async def get_object(self, request: Request) -> Response:
        obj = self._object_for_path(request)
        if isinstance(obj, Response):
            return obj
        if obj.state != "ready":
            return request_error(404, "File not found (upload not finished)", "file_not_found")
        return FileResponse(
            self.store.blob_path(obj.object_id),
            media_type=obj.content_type,
            headers={"etag": obj.etag or ""},
        )

    async def object_route(self, request: Request) -> Response:
        if request.method == "PUT":
            return await self.put_object(request)
        return await self.get_object(request)

    # -- for the renderer -----------------------------------------------------------------------

    def resolve_local_url(self, url: str) -> Path | None:
        """The file behind one of our upload or output URLs, so ``image_url`` and
        ``video_url`` read it from disk.

        URLs in our namespace that are unknown, unfinished or expired map to a path that does
        not exist, so the renderer answers fal's ``file_download_error`` instead of treating
        them as remote fal media. Anything else is None: not ours.
        """
        try:
            parts = urllib.parse.urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:  # e.g. a broken IPv6 literal: not a URL of ours
            return None
        ours = HOST_ROLES.get(host) == "cdn" or is_loopback(host) or host == self.config.host
        if parts.scheme not in ("http", "https") or not ours:
            return None
        path = urllib.parse.unquote(parts.path)
        if (output := OUTPUT_FILE_PATH.match(path)) is not None:
            return self.resolve_output(output)
        match = OBJECT_PATH.match(path)
        if match is None:
            return None
        obj = self.store.readable(match["object_id"])
        if obj is None or obj.file_name != match["name"]:
            return self.store.root / "missing" / match["object_id"]
        return self.store.blob_path(obj.object_id)

    def resolve_output(self, match: re.Match[str]) -> Path:
        """A generated file: its bytes are the render in the media cache it was published from
        (a path that does not exist when the id, shard or name is not one we handed out)."""
        output = self.store.output(match["file_id"])
        if output is None or (output.shard, output.file_name) != (match["shard"], match["name"]):
            return self.store.root / "missing" / match["file_id"]
        return self.config.media_dir / f"{output.media_key}.mp4"


def _concatenate(paths: list[Path], dest: Path) -> tuple[int, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    with dest.open("wb") as out:
        for path in paths:
            with path.open("rb") as part:
                while chunk := part.read(1024 * 1024):
                    md5.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
    return size, md5.hexdigest()


def _route(path: str, name: str, *methods: str) -> Route:
    """``name`` of ``Services.storage`` for ``methods``; any other method is a 405, never a
    fall-through to the host's catch-all (the queue API's 404 on loopback)."""

    async def call(request: Request) -> Response:
        return await getattr(services(request).storage, name)(request)

    return MethodTableRoute(path, dict.fromkeys(methods, call))


OBJECT_ROUTE = FILES_PREFIX + "/{object_id}/{name}"
MULTIPART_ROUTE = OBJECT_ROUTE + "/multipart/{upload_id}"

REST_ROUTES: list[BaseRoute] = [
    _route("/storage/auth/token", "auth_token", "POST"),
    _route("/storage/upload/initiate", "initiate", "POST"),
    _route("/storage/upload/initiate-multipart", "initiate_multipart", "POST"),
]
CDN_ROUTES: list[BaseRoute] = [
    _route("/files/upload", "cdn_upload", "POST"),
    _route("/files/upload/multipart", "cdn_multipart_start", "POST"),
    _route(OBJECT_ROUTE, "object_route", "GET", "PUT"),
    _route(MULTIPART_ROUTE + "/complete", "complete", "POST"),
    _route(MULTIPART_ROUTE + "/{part}", "put_part", "PUT"),
]
LOCAL_ROUTES: list[BaseRoute] = [*REST_ROUTES, *CDN_ROUTES]
