"""How long fal keeps a completed request readable, set by the submit's ``X-Fal-Store-IO``.

fal's docs (2026): "fal keeps the result for 1 hour after the request completes. If the result
is 10 KB or larger, fal keeps it for 6 minutes. If payload storage is on, the result stays
available for the storage period" (queue result), and payloads "are stored for 30 days by
default", ``X-Fal-Store-IO: "0"`` disabling that storage (platform headers). What an expired id
answers is not captured: the emulator answers the unknown-id 404s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mockserver.records import RequestRecord

STORE_IO_HEADER = "x-fal-store-io"
STORE_IO_OFF = "0"
"""The one documented value that turns payload storage off; any other keeps it on [INF]."""
PAYLOAD_STORAGE_SECONDS = 30 * 24 * 3600.0
UNSTORED_SECONDS = 3600.0
UNSTORED_LARGE_SECONDS = 360.0
LARGE_RESULT_BYTES = 10_000
""""10 KB": read as 10,000 bytes [INF: 1000 or 1024 is not said]."""


def payload_stored(headers: Mapping[str, str]) -> bool:
    return headers.get(STORE_IO_HEADER, "").strip() != STORE_IO_OFF


def result_bytes(record: RequestRecord) -> int:
    """The size of the result's body: the error as answered, or the output's fields (the URL
    is made per request, so the stored fields stand in for it: a few hundred bytes)."""
    if record.error is not None:
        body = record.error["body"]
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    else:
        text = json.dumps(record.media or {}, separators=(",", ":"))
    return len(text.encode())


def retention_seconds(record: RequestRecord, storage_seconds: float) -> float:
    """How long after completion the request stays readable: the payload-storage period, or
    with storage off fal's 1 hour (6 minutes for a result of 10 KB or more), never longer than
    the storage period."""
    if payload_stored(record.headers):
        return storage_seconds
    large = result_bytes(record) >= LARGE_RESULT_BYTES
    return min(UNSTORED_LARGE_SECONDS if large else UNSTORED_SECONDS, storage_seconds)
