"""Where request records live: a ``RequestStore`` protocol with memory and SQLite backends.

The SQLite backend is the default for ``serve``: a restart keeps every accepted request,
and several worker processes can share one file (WAL mode; optimistic ``version`` checks
stop two workers from applying the same transition twice).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mockserver.records import RequestRecord


class RequestStore(Protocol):
    def add(self, record: RequestRecord) -> None:
        """Store a new record, assigning its ``seq`` (submission order)."""
        ...

    def get(self, request_id: str) -> RequestRecord | None: ...

    def save(self, record: RequestRecord) -> bool:
        """Write a changed record; False if another writer changed it first."""
        ...

    def unfinished(self) -> list[RequestRecord]:
        """IN_QUEUE and IN_PROGRESS records in queue order."""
        ...

    def position(self, record: RequestRecord) -> int:
        """How many queued records are ahead of this one."""
        ...

    def recent(self, limit: int) -> list[RequestRecord]: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group the writes inside into one durable step (one commit for a whole replay)."""
        ...


class MemoryStore:
    def __init__(self) -> None:
        self._records: dict[str, RequestRecord] = {}
        self._queued: list[tuple[int, int]] = []  # sorted queue keys of IN_QUEUE records
        self._unfinished: dict[str, RequestRecord] = {}
        self._seq = 0

    def add(self, record: RequestRecord) -> None:
        self._seq += 1
        record.seq = self._seq
        stored = record.copy()  # callers keep mutating theirs
        self._records[record.request_id] = stored
        self._track(None, stored)

    def get(self, request_id: str) -> RequestRecord | None:
        record = self._records.get(request_id)
        return None if record is None else record.copy()

    def save(self, record: RequestRecord) -> bool:
        current = self._records.get(record.request_id)
        if current is None or current.version != record.version:
            return False
        record.version += 1
        stored = record.copy()
        self._records[record.request_id] = stored
        self._track(current, stored)
        return True

    def _track(self, old: RequestRecord | None, new: RequestRecord) -> None:
        if old is not None and old.status == "IN_QUEUE":
            index = bisect.bisect_left(self._queued, old.queue_key)
            if index < len(self._queued) and self._queued[index] == old.queue_key:
                del self._queued[index]
        if new.status == "IN_QUEUE":
            bisect.insort(self._queued, new.queue_key)
        if new.status == "COMPLETED":
            self._unfinished.pop(new.request_id, None)
        else:
            self._unfinished[new.request_id] = new

    def unfinished(self) -> list[RequestRecord]:
        ordered = sorted(self._unfinished.values(), key=lambda r: r.queue_key)
        return [r.copy() for r in ordered]

    def position(self, record: RequestRecord) -> int:
        return bisect.bisect_left(self._queued, record.queue_key)

    def recent(self, limit: int) -> list[RequestRecord]:
        newest = sorted(self._records.values(), key=lambda r: r.seq, reverse=True)[:limit]
        return [r.copy() for r in newest]

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def close(self) -> None:
        pass

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_queue ON requests (status, priority_rank, seq);
"""


DECODED_CACHE_SIZE = 4096


class SqliteStore:
    """One connection guarded by a lock: the event loop thread does all the writing.

    Records this process decoded or wrote are kept by ``(request_id, version)``: a status poll
    still reads the row (another worker may have written it), but skips the JSON decode when
    the version is the one it already holds (every save bumps it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._decoded: dict[str, RequestRecord] = {}
        self._batching = False

    def _remember(self, record: RequestRecord) -> None:
        if len(self._decoded) >= DECODED_CACHE_SIZE and record.request_id not in self._decoded:
            del self._decoded[next(iter(self._decoded))]  # the oldest entry
        self._decoded[record.request_id] = record.copy()

    @staticmethod
    def _encode(record: RequestRecord) -> str:
        return json.dumps(vars(record), separators=(",", ":"))  # the fields; no deep copy

    @staticmethod
    def _decode(row: tuple[int, str]) -> RequestRecord:
        record = RequestRecord.from_dict(json.loads(row[1]))
        record.seq = row[0]
        return record

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO requests (request_id, status, priority_rank, version, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    record.request_id,
                    record.status,
                    record.priority_rank,
                    record.version,
                    self._encode(record),
                ),
            )
            record.seq = int(cursor.lastrowid or 0)
            self._remember(record)

    def get(self, request_id: str) -> RequestRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, version, data FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return None
            known = self._decoded.get(request_id)
            if known is not None and known.version == row[1]:
                return known.copy()
            record = self._decode((row[0], row[2]))
            self._remember(record)
            return record

    def save(self, record: RequestRecord) -> bool:
        expected = record.version
        record.version += 1
        with self._lock:
            cursor = self._db.execute(
                "UPDATE requests SET status = ?, priority_rank = ?, version = ?, data = ?"
                " WHERE request_id = ? AND version = ?",
                (
                    record.status,
                    record.priority_rank,
                    record.version,
                    self._encode(record),
                    record.request_id,
                    expected,
                ),
            )
            if cursor.rowcount == 1:
                self._remember(record)
        if cursor.rowcount != 1:
            record.version = expected
            return False
        return True

    def unfinished(self) -> list[RequestRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, data FROM requests WHERE status != 'COMPLETED'"
                " ORDER BY priority_rank, seq"
            ).fetchall()
        return [self._decode(row) for row in rows]

    def position(self, record: RequestRecord) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM requests WHERE status = 'IN_QUEUE'"
                " AND (priority_rank, seq) < (?, ?)",
                record.queue_key,
            ).fetchone()
        return int(count)

    def recent(self, limit: int) -> list[RequestRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, data FROM requests ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._decode(row) for row in rows]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM requests")
            self._decoded.clear()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One IMMEDIATE transaction: a replay's transitions cost one commit, not one each.

        Committed whatever happens inside: the queue's in-memory view already holds every write
        that succeeded. Writes made alone (a submit's INSERT) still commit before they return."""
        if self._batching:
            yield
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            with self._lock:
                self._db.execute("COMMIT")
