"""``SharedJournal``: every replica's finished entries in one capped Redis stream.

The request path only appends a finished entry to a list and wakes a writer task; the writer
sends the entries of a tick in one Lua script, which numbers each from one counter (the entry
id: ``?since=`` polls work whichever replica answers) and adds it to the stream, capped near
the journal size (``XADD MAXLEN ~``; a read takes the newest ``size``). A replica flushes what
it still holds before it reads or clears, so it always sees its own entries; another replica's
appear once its writer ran (a tick and a round trip after the response).

Entries are written with secrets masked and read back as ``JournalEntry`` objects, so the JSON
is the one process's. An entry appears once its response ended. Notes and a poll's endpoint
come from the request's record when the journal is read, so they are right whichever replica
drove the request. ``DELETE /_mock/journal`` and a reset delete the stream for all and note the
time (Redis's clock); an entry that finished before it (on a replica whose writer had not run
yet) is dropped when it arrives, as a one-process reset drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from mockserver.observation.journal import (
    SECRET_HEADERS,
    Journal,
    JournalEntry,
    JournalFilter,
)
from mockserver.observation.masking import mask_secret

if TYPE_CHECKING:
    import redis

    from mockserver.shared.connection import SharedRedis

log = logging.getLogger(__name__)

WRITE = """
local size = tonumber(ARGV[1])
local cleared = tonumber(redis.call('GET', KEYS[4]) or '0')
local written = 0
for i = 2, #ARGV, 4 do
  if tonumber(ARGV[i]) >= cleared then
    if size == 0 or redis.call('XLEN', KEYS[1]) >= size then redis.call('INCR', KEYS[3]) end
    if size > 0 then
      local id = redis.call('INCR', KEYS[2])
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', size, id .. '-0',
                 'e', ARGV[i + 1], 'q', ARGV[i + 2], 'a', ARGV[i + 3])
    end
    written = written + 1
  end
end
return written
"""
"""KEYS: stream, ids, evicted, cleared at. ARGV: size, then per entry: its finish time (Unix
seconds), the fields as JSON, the request body prefix, the response body prefix."""

CLEAR = """
local count = math.min(redis.call('XLEN', KEYS[1]), tonumber(ARGV[1]))
redis.call('DEL', KEYS[1])
local now = redis.call('TIME')
redis.call('SET', KEYS[2], now[1] .. '.' .. string.format('%06d', tonumber(now[2])))
return count
"""
"""KEYS: stream, cleared at. ARGV: size. Returns how many entries a reader could see."""

BATCH = 200
"""Entries per script call: a long backlog goes in pieces, never one long-running script."""
RETRY_SECONDS = 0.5
MAX_STREAM_ID = 2**64 - 1


def _text_headers(raw: list[tuple[bytes, bytes]]) -> list[list[str]]:
    out = []
    for key, value in raw:
        name, text = key.decode("latin-1"), value.decode("latin-1")
        out.append([name, mask_secret(text) if name.lower() in SECRET_HEADERS else text])
    return out


def _raw_headers(rows: list[list[str]]) -> list[tuple[bytes, bytes]]:
    return [(key.encode("latin-1"), value.encode("latin-1")) for key, value in rows]


def encode(entry: JournalEntry) -> bytes:
    """An entry's fields (secrets masked) as JSON; its body prefixes travel apart, as bytes."""
    return orjson.dumps(
        {
            "at": entry.at,
            "received_at": entry.received_at,
            "method": entry.method,
            "host": entry.host,
            "path": entry.path,
            "query": entry.query,
            "route": entry.route,
            "endpoint_id": entry.endpoint_id,
            "request_id": entry.request_id,
            "request_headers": _text_headers(entry.raw_request_headers),
            "status": entry.status,
            "response_headers": _text_headers(entry.raw_response_headers),
            "duration_ms": entry.duration_ms,
            "dropped": entry.dropped,
            "error": entry.error,
            "faults": entry.faults,
            "notes": entry.notes,
            "request_bytes": entry.request_bytes,
            "response_bytes": entry.response_bytes,
        }
    )


def decode(stream_id: bytes, fields: dict[bytes, bytes]) -> JournalEntry:
    data = orjson.loads(fields[b"e"])
    return JournalEntry(
        id=int(stream_id.split(b"-", 1)[0]),
        at=data["at"],
        method=data["method"],
        host=data["host"],
        path=data["path"],
        query=data["query"],
        route=data["route"],
        endpoint_id=data["endpoint_id"],
        request_id=data["request_id"],
        raw_request_headers=_raw_headers(data["request_headers"]),
        status=data["status"],
        raw_response_headers=_raw_headers(data["response_headers"]),
        duration_ms=data["duration_ms"],
        finished=True,
        dropped=data["dropped"],
        error=data["error"],
        faults=data["faults"],
        notes=data["notes"],
        request_raw=bytearray(fields.get(b"q", b"")),
        request_bytes=data["request_bytes"],
        response_raw=bytearray(fields.get(b"a", b"")),
        response_bytes=data["response_bytes"],
        received_at=data["received_at"],
    )


def _record_facts(data: bytes) -> tuple[str | None, list[str]]:
    """A stored request record's endpoint and notes (``shared/store.py`` keeps its fields as
    JSON under ``d``)."""
    try:
        fields = orjson.loads(data)
    except orjson.JSONDecodeError:  # an integer beyond 64 bits in the input
        fields = json.loads(data)
    return fields.get("endpoint_id"), list(fields.get("notes") or [])


class SharedJournal(Journal):
    def __init__(self, shared: SharedRedis, size: int) -> None:
        super().__init__(size)
        self._entries = deque(maxlen=0)  # nothing kept here: the stream is the journal
        self._shared = shared
        keys = shared.keys
        self._keys = [
            keys.of("journal"),
            keys.of("journal", "ids"),
            keys.of("journal", "evicted"),
            keys.of("journal", "cleared"),
        ]
        self._pending: list[tuple[float, JournalEntry]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._scripts: dict[str, Any] = {}
        self._evicted_seen = 0

    # -- the request path: one append ---------------------------------------------------------

    def on_finish(self, observe: Callable[[JournalEntry], None]) -> Callable[[JournalEntry], None]:
        pending, wake, cap = self._pending, self._wake, 2 * max(self.size, BATCH)

        def finished(entry: JournalEntry) -> None:
            observe(entry)
            pending.append((time.time(), entry))
            if len(pending) > cap:  # Redis away for long: keep the newest
                del pending[0]
            wake.set()

        return finished

    def annotate(self, request_id: str, notes: list[str]) -> None:
        """Notes come from the request's record when the journal is read."""

    # -- the writer ---------------------------------------------------------------------------

    def _script(self, name: str, source: str, client: Any) -> Any:
        key = f"{name}:{id(client)}"
        if key not in self._scripts:
            self._scripts[key] = client.register_script(source)
        return self._scripts[key]

    def _args(self, batch: list[tuple[float, JournalEntry]]) -> list[Any]:
        args: list[Any] = [self.size]
        for finished_at, entry in batch:
            args += [repr(finished_at), encode(entry), bytes(entry.request_raw)]
            args.append(bytes(entry.response_raw))
        return args

    async def start(self) -> None:
        """Load the script on the writer's connection now, so the first entries do not wait
        for a connection and a script load (and arrive in order with the next replica's)."""
        with contextlib.suppress(Exception):  # Redis away: the writer retries
            await self._shared.aio.script_load(WRITE)
        self._writer = asyncio.get_running_loop().create_task(
            self._write(), name="ray2-mock journal writer"
        )
        if self._pending:
            self._wake.set()

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        try:
            self.flush()
        except Exception as exc:  # leaving anyway: say what is lost
            log.warning("journal entries not written: %s", exc)

    async def _write(self) -> None:
        client = self._shared.aio
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:BATCH]
                del self._pending[:BATCH]
                try:
                    await self._script("write", WRITE, client)(
                        keys=self._keys, args=self._args(batch)
                    )
                except Exception as exc:  # Redis away: keep them and try again
                    log.warning("journal entries not written yet: %s", exc)
                    self._pending[:0] = batch
                    await asyncio.sleep(RETRY_SECONDS)

    def flush(self) -> None:
        """Write what this replica still holds, now (before it reads or clears)."""
        client = self._shared.sync
        while self._pending:
            batch = self._pending[:BATCH]
            del self._pending[:BATCH]
            try:
                self._script("write", WRITE, client)(keys=self._keys, args=self._args(batch))
            except BaseException:
                self._pending[:0] = batch
                raise

    # -- reading ------------------------------------------------------------------------------

    @property
    def evicted(self) -> int:
        """Entries that fell out of every replica's journal (as of the last read)."""
        return self._evicted_seen

    @evicted.setter
    def evicted(self, value: int) -> None:
        self._evicted_seen = value

    @property
    def _redis(self) -> redis.Redis:
        return self._shared.sync

    def entries(
        self, where: JournalFilter | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        self.flush()
        since = where.since if where is not None else None
        if self.size == 0 or (since is not None and since >= MAX_STREAM_ID):
            self._evicted_seen = int(self._redis.get(self._keys[2]) or 0)
            return []
        start = "-" if since is None or since < 0 else f"{since + 1}-0"
        narrowed = where is not None and replace(where, since=None) != JournalFilter()
        wanted = self.size if narrowed or not limit else min(limit, self.size)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xrevrange(self._keys[0], "+", start, count=wanted)  # the newest first
        pipe.get(self._keys[2])
        rows, evicted = pipe.execute()
        self._evicted_seen = int(evicted or 0)
        found = [decode(stream_id, fields) for stream_id, fields in reversed(rows)]
        by_endpoint = where is not None and where.endpoint is not None
        if by_endpoint:  # the filter reads the endpoint the record gives
            self._fill(found)
        chosen = [e for e in found if where is None or where.matches(e)]
        chosen = chosen[-limit:] if limit else chosen
        if not by_endpoint:  # only the entries returned: a record is read for each request
            self._fill(chosen)
        return chosen

    def _fill(self, entries: list[JournalEntry]) -> None:
        """Each entry's notes, and a poll's endpoint, from its request's record: whichever
        replica drove the request, as one process learns them."""
        wanted = list(dict.fromkeys(e.request_id for e in entries if e.request_id))
        if not wanted:
            return
        pipe = self._redis.pipeline(transaction=False)
        for request_id in wanted:
            pipe.hget(self._shared.keys.request(request_id), "d")
        facts = {
            request_id: _record_facts(data)
            for request_id, data in zip(wanted, pipe.execute(), strict=True)
            if data is not None
        }
        for entry in entries:
            known = facts.get(entry.request_id or "")
            if known is None:
                continue
            endpoint_id, notes = known
            if entry.route not in ("submit", "run") and endpoint_id:
                entry.endpoint_id = endpoint_id
            if notes:
                entry.notes = notes

    def clear(self) -> int:
        self.flush()
        count = self._script("clear", CLEAR, self._redis)(
            keys=[self._keys[0], self._keys[3]], args=[self.size]
        )
        return int(count)

    def __len__(self) -> int:
        self.flush()
        return min(int(self._redis.xlen(self._keys[0])), self.size)
