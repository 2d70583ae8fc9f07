"""fal's storage API as the unmodified clients call it: CDN tokens, uploads, multipart, serving.

Routes (shapes verified against fal-client 1.0.3 and @fal-ai/client 1.10.1, protocol notes §10):

- ``POST rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3`` → a Bearer token for the CDN.
- ``POST v3.fal.media/files/upload`` (Bearer) → ``{"access_url", "uploaded": true}``: Python's
  single upload.
- ``POST {base_url}/files/upload/multipart`` (Bearer) → ``{"access_url", "uploadId"}``, then
  ``PUT {access_url}/multipart/{uploadId}/{n}`` (answers an ``ETag`` header for Python and a
  ``{"partNumber", "etag"}`` body for JS) and ``POST …/complete`` with the parts list.
- ``POST rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3`` (Key) →
  ``{"upload_url", "file_url"}``, then ``PUT upload_url``: JS's path. Any other storage type
  gets fal's 400, which is what Python's ``gcs`` fallback meets.
- ``POST rest.fal.ai/storage/upload/initiate-multipart`` (Key): JS's large files; its
  ``upload_url`` is the multipart URL above plus a ``?signature=`` query, so both clients
  share one part/complete route.
- ``GET|HEAD {file_url}``: the bytes, with Range support, until the object expires.

Files have fal's current URL shape, ``files/b/<8 hex>/<21-char id>_<file name>``, one namespace
with generated outputs. URLs are built from the incoming request: on fal's hosts they are on
``https://v3b.fal.media``, on a loopback address they point at this server, so the JS client's
raw ``fetch`` PUTs (which bypass its proxy) reach it directly. Files stored before uploads took
this shape stay at ``files/uploads/<id>/<name>``. An uploaded file used as ``image_url`` or
``video_url`` is read from disk via ``resolve_local_url``, and so is a generated output fed back
in (what a reframe of an earlier clip sends).
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.bodies import read_json_object
from mockserver.config import Config
from mockserver.fal.auth import check_key
from mockserver.fal.errors import request_error, validation_error
from mockserver.fal.hosts import FILES_BASE, HOST_ROLES, is_loopback, public_base
from mockserver.services import services
from mockserver.serving.routing import MethodTableRoute
from mockserver.storage.files import Files, StoredObject, quoted_etag, split_file_name
from mockserver.storage.inputs import (
    CDN_FILE_PATH,
    INVALID_STORAGE_TYPE,
    LEGACY_OBJECT_PATH,
    STORAGE_TYPE,
    TOKEN_REFUSALS,
    TOKEN_SECONDS,
    UPLOAD_URL_SECONDS,
    error_entry,
    iso_time,
    lifecycle_seconds,
    media_type_of,
    object_url,
    receive_body,
    safe_name,
    unsupported_media_type,
)
from mockserver.storage.multipart import Multipart


def file_not_found() -> Response:
    """One answer for a CDN URL that names no file, uploaded or generated: the generated
    files' 404 (fal's body for it is not captured)."""
    return JSONResponse({"detail": "File not found"}, status_code=404)


class Storage:
    """The storage handlers over one file store (``FileStore``, or ``SharedFileStore`` for
    replicas); ``Services.storage`` holds the instance. Work that moves a file's bytes (to
    disk, or to and from Redis) runs in a thread, so a large file never stalls the loop."""

    def __init__(self, store: Files, config: Config) -> None:
        self.store = store
        self.config = config
        self.multipart = Multipart(self)

    @property
    def limit(self) -> int:
        return self.config.max_upload_bytes

    # -- shared checks --------------------------------------------------------------------------

    def _key_auth(self, request: Request) -> Response | None:
        return check_key(request.headers.get("authorization", ""), self.config.accepted_keys)

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
        if request.query_params.get("storage_type", STORAGE_TYPE) == STORAGE_TYPE:
            return None
        return Response(INVALID_STORAGE_TYPE, 400, media_type="application/json")

    def named_object(self, request: Request) -> StoredObject | None:
        """The upload a file URL names (any state), if its id, shard and name all match."""
        named = named_in_path(request.path_params)
        obj = None if named is None else self.store.get(named[0])
        if named is None or obj is None or (obj.shard, obj.file_name) != named[1:]:
            return None
        return obj

    def object_for_path(self, request: Request) -> StoredObject | Response:
        """The object a file URL names (pending or ready), or the 404 / 410."""
        obj = self.named_object(request)
        if obj is None:
            return file_not_found()
        if obj.expired(self.store.clock.now()):
            if obj.state != "expired":
                self.store.expire(obj)
            return request_error(410, "File has expired (object lifecycle)", "file_expired")
        return obj

    # -- REST host ------------------------------------------------------------------------------

    async def auth_token(self, request: Request) -> Response:
        if (refused := self._key_auth(request) or self._storage_type(request)) is not None:
            return refused
        token, created_at, expires_at = self.store.issue_token(TOKEN_SECONDS)
        return JSONResponse(
            {  # the fields in the order of a live answer (2026-09)
                "token": token,
                "created_at": iso_time(created_at),
                "expires_at": iso_time(expires_at),
                "base_url": public_base(request, FILES_BASE),
                "token_type": "Bearer",
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
            error_entry(["body", field], "Field required", "missing")
            for field in ("content_type", "file_name")
            if field not in body
        ] + [
            error_entry(
                ["body", field], "Input should be a valid string", "string_type", body[field]
            )
            for field in ("content_type", "file_name")
            if field in body and not isinstance(body[field], str)
        ]
        if problems:
            return validation_error(problems)
        media_type = media_type_of(body["content_type"])
        if media_type is None:
            return unsupported_media_type(body["content_type"], "in body.content_type")
        lifetime = lifecycle_seconds(request)
        if isinstance(lifetime, Response):
            return lifetime
        obj = self.store.create(
            safe_name(body["file_name"], media_type),
            body["content_type"].strip(),
            lifetime_seconds=lifetime,
            upload_url_seconds=UPLOAD_URL_SECONDS,
        )
        file_url = object_url(request, obj)
        # Multipart: parts go to upload_url + "/<n>", completion to upload_url + "/complete";
        # the clients keep the query when they append, so the signature travels with both.
        upload_path = f"/multipart/{self.store.start_multipart(obj)}" if multipart else ""
        upload_url = f"{file_url}{upload_path}?signature={obj.upload_secret}"
        return JSONResponse({"upload_url": upload_url, "file_url": file_url})

    # -- CDN host -------------------------------------------------------------------------------

    async def cdn_upload(self, request: Request) -> Response:
        """Python's single-request upload: bytes in, ``access_url`` out."""
        obj = self.new_cdn_object(request)
        if isinstance(obj, Response):
            return obj
        stored = await self._store_body(request, obj)
        if isinstance(stored, Response):
            return stored
        return JSONResponse({"access_url": object_url(request, obj), "uploaded": True})

    def new_cdn_object(self, request: Request) -> StoredObject | Response:
        """A new object for a CDN-token upload, or the refusal (token, media type, lifecycle)."""
        if (refused := self._bearer_auth(request)) is not None:
            return refused
        content_type = request.headers.get("content-type")
        media_type = media_type_of(content_type)
        if media_type is None:
            return unsupported_media_type(content_type, "of the upload")
        lifetime = lifecycle_seconds(request)
        if isinstance(lifetime, Response):
            return lifetime
        name = safe_name(request.headers.get("x-fal-file-name"), media_type)
        return self.store.create(name, (content_type or "").strip(), lifetime_seconds=lifetime)

    async def put_object(self, request: Request) -> Response:
        """The signed ``upload_url`` from initiate: one PUT of the whole file (repeatable)."""
        obj = self.object_for_path(request)
        if isinstance(obj, Response):
            return obj
        if (refused := self.signature_refusal(request, obj)) is not None:
            return refused
        content_type = request.headers.get("content-type")
        if media_type_of(content_type) != media_type_of(obj.content_type):
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

    def signature_refusal(self, request: Request, obj: StoredObject) -> Response | None:
        """Why a PUT (or a multipart call) on an initiated ``upload_url`` is refused: a
        missing or wrong ``signature``, or an expired URL; None when it is accepted."""
        if not self.store.upload_secret_matches(obj, request.query_params.get("signature", "")):
            return request_error(
                403, "Invalid upload signature for this file", "invalid_upload_signature"
            )
        if obj.upload_expires_at is not None and self.store.clock.now() >= obj.upload_expires_at:
            return request_error(403, "Upload URL has expired", "upload_url_expired")
        return None

    async def _store_body(self, request: Request, obj: StoredObject) -> str | Response:
        """The request body becomes ``obj``'s file: its quoted ETag, or the refusal (size)."""
        incoming = self.store.incoming_path()
        received = await receive_body(request, incoming, self.limit)
        if isinstance(received, Response):
            return received
        size, md5_hex = received
        etag = quoted_etag(md5_hex)
        await asyncio.to_thread(self.store.finish, obj, incoming, size, etag)
        self.store.sweep()
        return etag

    async def get_object(self, request: Request) -> Response:
        obj = self.object_for_path(request)
        if isinstance(obj, Response):
            return obj
        if obj.state != "ready":
            return file_not_found()  # not a file until its upload finishes
        path = await asyncio.to_thread(self.store.blob_file, obj)
        if not path.is_file():  # replaced or expired by another replica meanwhile
            return file_not_found()
        return FileResponse(
            path,
            media_type=obj.content_type,
            headers={"etag": obj.etag or ""},
        )

    # -- for the renderer -----------------------------------------------------------------------

    def resolve_local_url(self, url: str) -> Path | None:
        """The file behind one of our upload or output URLs, so ``image_url`` and
        ``video_url`` read it from disk.

        URLs in our namespace that are unknown, unfinished or expired map to a path that does
        not exist, so the renderer answers fal's ``file_download_error`` instead of treating
        them as remote fal media. Anything else is None: not ours. On fal's CDN hosts an output
        id we never issued is fal's own file (fal's files are public; users paste real ones):
        None too, so the foreign-media policy applies, not a 422.
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
        if (match := CDN_FILE_PATH.match(path)) is not None:
            if self.store.get(match["file_id"]) is not None:  # an upload of ours
                return self.readable_blob(match["file_id"], match["shard"], match["name"])
            if HOST_ROLES.get(host) == "cdn" and self.store.output(match["file_id"]) is None:
                return None  # a real fal file, not one of ours: foreign fal media
            return self.resolve_output(match)
        if (match := LEGACY_OBJECT_PATH.match(path)) is not None:
            return self.readable_blob(match["object_id"], None, match["name"])
        return None

    def readable_blob(self, object_id: str, shard: str | None, name: str) -> Path:
        """An upload's bytes, or a path that does not exist (unknown, unfinished, expired)."""
        obj = self.store.readable(object_id)
        if obj is None or (obj.shard, obj.file_name) != (shard, name):
            return self.store.root / "missing" / object_id
        return self.store.blob_file(obj)

    def resolve_output(self, match: re.Match[str]) -> Path:
        """A generated file: its bytes are the render in the media cache it was published from
        (a path that does not exist when the id, shard or name is not one we handed out)."""
        output = self.store.output(match["file_id"])
        if output is None or (output.shard, output.file_name) != (match["shard"], match["name"]):
            return self.store.root / "missing" / match["file_id"]
        return self.config.media_dir / f"{output.media_key}.mp4"


Handler = Callable[[Request], Awaitable[Response]]


def _route(path: str, handler: Callable[[Storage], Handler], *methods: str) -> Route:
    """The handler ``handler`` picks from ``Services.storage``, for ``methods``; any other
    method is a 405, never a fall-through to the host's catch-all (the queue API's 404)."""

    async def call(request: Request) -> Response:
        return await handler(services(request).storage)(request)

    return MethodTableRoute(path, dict.fromkeys(methods, call))


FILE_ROUTE = "/files/b/{shard}/{name}"
"""``fal.hosts.FILE_PATH``: ``name`` is ``<21-char id>_<file name>``."""
LEGACY_OBJECT_ROUTE = "/files/uploads/{object_id}/{name}"
MULTIPART_ROUTE = FILE_ROUTE + "/multipart/{upload_id}"


def named_in_path(params: dict[str, Any]) -> tuple[str, str | None, str] | None:
    """(object id, shard, file name) from a file route's path parameters."""
    if "shard" not in params:  # the legacy route
        return params["object_id"], None, params["name"]
    named = split_file_name(params["name"])
    return None if named is None else (named[0], params["shard"], named[1])


def cdn_file_route(serve_generated: Handler) -> Route:
    """``files/b/<shard>/<id>_<name>``: fal's CDN has one namespace, so a GET serves an upload
    or else a generated file (``serve_generated``); a PUT is an upload's signed PUT."""

    async def get(request: Request) -> Response:
        storage = services(request).storage
        if storage.named_object(request) is not None:
            return await storage.get_object(request)
        return await serve_generated(request)

    async def put(request: Request) -> Response:
        return await services(request).storage.put_object(request)

    return MethodTableRoute(FILE_ROUTE, {"GET": get, "PUT": put})


REST_ROUTES: list[BaseRoute] = [
    _route("/storage/auth/token", lambda s: s.auth_token, "POST"),
    _route("/storage/upload/initiate", lambda s: s.initiate, "POST"),
    _route("/storage/upload/initiate-multipart", lambda s: s.initiate_multipart, "POST"),
]
CDN_ROUTES: list[BaseRoute] = [
    _route("/files/upload", lambda s: s.cdn_upload, "POST"),
    _route("/files/upload/multipart", lambda s: s.multipart.cdn_multipart_start, "POST"),
    _route(LEGACY_OBJECT_ROUTE, lambda s: s.get_object, "GET"),
    _route(MULTIPART_ROUTE + "/complete", lambda s: s.multipart.complete, "POST"),
    _route(MULTIPART_ROUTE + "/{part}", lambda s: s.multipart.put_part, "PUT"),
]
LOCAL_ROUTES: list[BaseRoute] = [*REST_ROUTES, *CDN_ROUTES]
