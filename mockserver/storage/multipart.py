"""Multipart uploads, as both clients send them: Python's ``{base_url}/files/upload/multipart``
(Bearer; parts answer an ``ETag`` header) and JS's ``initiate-multipart`` (parts answer
``{"partNumber", "etag"}``; its ``upload_url`` carries a ``?signature=`` that every part and the
completion must keep, as the clients do when they append ``/<n>``); both share one part and
one complete route."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mockserver.bodies import read_json_object
from mockserver.fal.errors import request_error, validation_error
from mockserver.storage.files import Part, StoredObject, quoted_etag, same_etag
from mockserver.storage.inputs import MAX_PART_NUMBER, error_entry, object_url, receive_body

if TYPE_CHECKING:
    from mockserver.storage.api import Storage


class Multipart:
    """The multipart routes over a ``Storage`` (its store, limits and checks)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.store = storage.store

    @property
    def limit(self) -> int:
        return self.storage.limit

    async def cdn_multipart_start(self, request: Request) -> Response:
        obj = self.storage.new_cdn_object(request)
        if isinstance(obj, Response):
            return obj
        upload_id = self.store.start_multipart(obj)
        return JSONResponse({"access_url": object_url(request, obj), "uploadId": upload_id})

    def _multipart_object(self, request: Request) -> tuple[StoredObject, str] | Response:
        obj = self.storage.object_for_path(request)
        if isinstance(obj, Response):
            return obj
        upload_id = request.path_params["upload_id"]
        if self.store.multipart_object(upload_id) != obj.object_id:
            return request_error(
                404, f"No multipart upload {upload_id!r} for this file", "upload_not_found"
            )
        signed = obj.upload_secret is not None  # initiate-multipart's upload_url (not Bearer)
        if signed and (refused := self.storage.signature_refusal(request, obj)) is not None:
            return refused
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
                    error_entry(
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
        await asyncio.to_thread(self.store.save_part, upload_id, Part(number, size, etag), incoming)
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
        numbers = [number for number, _ in listed]
        await asyncio.to_thread(self.store.complete_multipart, obj, upload_id, numbers)
        self.store.sweep()
        return JSONResponse({"access_url": object_url(request, obj)})

    @staticmethod
    def _listed_parts(body: dict[str, Any]) -> list[tuple[int, str]] | Response:
        """The parts list, sorted: Python sends it in completion order, not part order."""
        parts = body.get("parts")
        if not isinstance(parts, list) or not parts:
            return validation_error(
                [
                    error_entry(
                        ["body", "parts"], "Input should be a non-empty list", "list_type", parts
                    )
                ]
            )
        listed: dict[int, str] = {}
        for index, item in enumerate(parts):
            number = item.get("partNumber") if isinstance(item, dict) else None
            etag = item.get("etag") if isinstance(item, dict) else None
            if isinstance(number, bool) or not isinstance(number, int) or not isinstance(etag, str):
                return validation_error(
                    [
                        error_entry(
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
