"""Where request records live: a ``RequestStore`` protocol with memory and SQLite backends.

The SQLite backend is the default for ``serve``: a restart keeps every accepted request,
and several worker processes can share one file (WAL mode; optimistic ``version`` checks
stop two workers from applying the same transition twice).
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import heapq
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import orjson

from mockserver.records import RequestRecord
from mockserver.retention import PAYLOAD_STORAGE_SECONDS, retention_seconds


class RequestStore(Protocol):
    def add(self, record: RequestRecord) -> None:
        """Store a new record, assigning its ``seq`` (submission order)."""
        ...

    def get(self, request_id: str) -> RequestRecord | None:
        """A copy the caller may change and ``save``."""
        ...

    def view(self, request_id: str) -> RequestRecord | None:
        """The stored record itself, for reading only (no copy: the status path's read).

        Stores never change a stored record in place (a save stores a new one), so a view is
        a consistent snapshot for as long as the caller holds it."""
        ...

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

    async def durable(self) -> None:
        """Return once every write made so far would survive a crash of the process."""
        ...


class _CopyOnGet:
    """``RequestStore.get`` for a store with ``view``: the stored record, copied for the caller."""

    def view(self, request_id: str) -> RequestRecord | None:
        raise NotImplementedError

    def get(self, request_id: str) -> RequestRecord | None:
        record = self.view(request_id)
        return None if record is None else record.copy()


class QueueIndex:
    """The queue keys of every IN_QUEUE record, sorted: a position is one bisection.

    Both stores keep one when they alone write their records (SQLite shared by workers asks
    the file instead)."""

    def __init__(self, records: Iterable[RequestRecord] = ()) -> None:
        self._by_id = {r.request_id: r.queue_key for r in records if r.status == "IN_QUEUE"}
        self._keys = sorted(self._by_id.values())

    def track(self, record: RequestRecord) -> None:
        """Follow one write of ``record`` (new or changed)."""
        old = self._by_id.pop(record.request_id, None)
        if old is not None:
            index = bisect.bisect_left(self._keys, old)
            if index < len(self._keys) and self._keys[index] == old:
                del self._keys[index]
        if record.status == "IN_QUEUE":
            self._by_id[record.request_id] = record.queue_key
            bisect.insort(self._keys, record.queue_key)

    def position(self, record: RequestRecord) -> int:
        return bisect.bisect_left(self._keys, record.queue_key)

    def clear(self) -> None:
        self._by_id.clear()
        self._keys.clear()


DEFAULT_RETENTION_COUNT = 10_000


class MemoryStore(_CopyOnGet):
    """Records in a dict: nothing survives the process, and completed requests are forgotten
    when fal would forget them (``retention.py``: ``retention_seconds`` is the payload-storage
    period, shorter with ``X-Fal-Store-IO: 0``), or once more than ``retention_count`` have
    completed (the oldest first), so a long run keeps a flat footprint. A forgotten request is
    unknown: its status and result answer the same 404 as an id never seen."""

    def __init__(
        self,
        *,
        now: Callable[[], float] | None = None,
        retention_seconds: float | None = PAYLOAD_STORAGE_SECONDS,
        retention_count: int | None = DEFAULT_RETENTION_COUNT,
    ) -> None:
        self._now = now
        self.retention_seconds = retention_seconds
        self.retention_count = retention_count
        self._records: dict[str, RequestRecord] = {}
        self._queued = QueueIndex()
        self._unfinished: dict[str, RequestRecord] = {}
        self._completed: collections.OrderedDict[str, float | None] = collections.OrderedDict()
        """Completed ids in completion order, each with the time it is forgotten (None: kept)."""
        self._expiring: list[tuple[float, str]] = []  # (forgotten at, id), a heap
        self._seq = 0

    def add(self, record: RequestRecord) -> None:
        self._seq += 1
        record.seq = self._seq
        stored = record.copy()  # callers keep mutating theirs
        self._records[record.request_id] = stored
        self._track(stored)

    def view(self, request_id: str) -> RequestRecord | None:
        record = self._records.get(request_id)
        if record is not None and record.status == "COMPLETED" and self._expired(request_id):
            self._forget_expired()
            return None
        return record

    def save(self, record: RequestRecord) -> bool:
        current = self._records.get(record.request_id)
        if current is None or current.version != record.version:
            return False
        record.version += 1
        stored = record.copy()
        self._records[record.request_id] = stored
        self._track(stored)
        return True

    def _track(self, new: RequestRecord) -> None:
        self._queued.track(new)
        if new.status == "COMPLETED":
            self._unfinished.pop(new.request_id, None)
            if new.request_id not in self._completed:
                expires = self._expiry(new)
                self._completed[new.request_id] = expires
                if expires is not None:
                    heapq.heappush(self._expiring, (expires, new.request_id))
            self._forget_expired()
        else:
            self._unfinished[new.request_id] = new

    # -- retention ----------------------------------------------------------------------------

    def _expiry(self, record: RequestRecord) -> float | None:
        if self.retention_seconds is None or self._now is None:
            return None
        return (record.completed_at or 0.0) + retention_seconds(record, self.retention_seconds)

    def _expired(self, request_id: str) -> bool:
        expires = self._completed.get(request_id)
        return expires is not None and self._now is not None and self._now() >= expires

    def _forget(self, request_id: str) -> None:
        self._completed.pop(request_id, None)
        self._records.pop(request_id, None)

    def _forget_expired(self) -> None:
        """Drop completed records over the count (oldest first) and those past their time."""
        completed = self._completed
        while self.retention_count is not None and len(completed) > self.retention_count:
            self._forget(next(iter(completed)))
        while self._expiring and (
            self._expiring[0][1] not in completed or self._expired(self._expiring[0][1])
        ):
            self._forget(heapq.heappop(self._expiring)[1])

    def unfinished(self) -> list[RequestRecord]:
        ordered = sorted(self._unfinished.values(), key=lambda r: r.queue_key)
        return [r.copy() for r in ordered]

    def position(self, record: RequestRecord) -> int:
        return self._queued.position(record)

    def recent(self, limit: int) -> list[RequestRecord]:
        self._forget_expired()
        newest = heapq.nlargest(limit, self._records.values(), key=lambda r: r.seq)
        return [r.copy() for r in newest]

    def clear(self) -> None:
        self._records.clear()
        self._queued.clear()
        self._unfinished.clear()
        self._completed.clear()
        self._expiring.clear()
        self._seq = 0

    def close(self) -> None:
        pass

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    async def durable(self) -> None:
        """Nothing here survives a crash: there is nothing to wait for."""


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
"""Records a shared store keeps decoded, by request id (a re-read of the same version skips
the JSON decode)."""


class _SqliteFile(_CopyOnGet):
    """The requests table: one connection guarded by a lock (the event loop thread writes)."""

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

    @staticmethod
    def _encode(record: RequestRecord) -> str:
        """The fields as compact JSON (no deep copy): orjson, or the standard library for
        what orjson refuses (an integer beyond 64 bits in a client's input)."""
        try:
            return orjson.dumps(vars(record)).decode()
        except TypeError:
            return json.dumps(vars(record), separators=(",", ":"))

    @staticmethod
    def _decode(row: tuple[int, str]) -> RequestRecord:
        # The standard library: orjson would read an integer beyond 64 bits as a float, and
        # reads are rare (a restart, a record evicted from memory), writes are not.
        record = RequestRecord.from_dict(json.loads(row[1]))
        record.seq = row[0]
        return record

    def _row(self, request_id: str) -> tuple[int, int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, version, data FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def unfinished(self) -> list[RequestRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, data FROM requests WHERE status != 'COMPLETED'"
                " ORDER BY priority_rank, seq"
            ).fetchall()
        return [self._decode(row) for row in rows]

    def recent(self, limit: int) -> list[RequestRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, data FROM requests ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._decode(row) for row in rows]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM requests")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SqliteStore(_SqliteFile):
    """The default store of one ``serve`` process, the only writer of its file.

    Every record lives in memory too (a bounded cache, the newest first to stay), so a status
    poll reads no row and a queue position is one bisection. Writes reach the file in group
    commits: everything written in one event-loop tick (the submits that arrived together, a
    replay's transitions) shares one transaction, committed at the next tick. A submit's
    answer waits for it (``durable``), so "accepted" still means "on disk"; a transition lost
    to a crash is replayed after the restart, from the last state on disk.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._kept: dict[str, RequestRecord] = {}
        self._pending: dict[str, RequestRecord] = {}  # written here, not yet on disk
        self._new: set[str] = set()  # of those, the ones without a row yet
        self._commit: asyncio.Future[None] | None = None
        with self._lock:
            (last,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()
        self._seq = max(int(last), self._autoincrement_seq())
        self._queued = QueueIndex(super().unfinished())
        self._batching = False

    def _autoincrement_seq(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'requests'"
            ).fetchone()
        return int(row[0]) if row else 0

    def _hold(self, record: RequestRecord) -> RequestRecord:
        """Keep ``record`` in memory, making room by dropping the oldest kept one."""
        if len(self._kept) >= DECODED_CACHE_SIZE and record.request_id not in self._kept:
            oldest = next(iter(self._kept))
            if oldest in self._pending:
                self.flush()  # only what is on disk may leave memory
            del self._kept[oldest]
        self._kept[record.request_id] = record
        return record

    def _keep(self, record: RequestRecord) -> None:
        """A write: held in memory at once, on disk at the next group commit."""
        kept = self._hold(record.copy())
        self._pending[record.request_id] = kept
        self._queued.track(kept)
        self._schedule_commit()

    def add(self, record: RequestRecord) -> None:
        self._seq += 1
        record.seq = self._seq
        self._new.add(record.request_id)
        self._keep(record)

    def view(self, request_id: str) -> RequestRecord | None:
        known = self._kept.get(request_id)
        if known is not None:
            return known
        row = self._row(request_id)
        if row is None:
            return None
        return self._hold(self._decode((row[0], row[2])))

    def save(self, record: RequestRecord) -> bool:
        current = self.view(record.request_id)
        if current is None or current.version != record.version:
            return False
        record.version += 1
        self._keep(record)
        return True

    def position(self, record: RequestRecord) -> int:
        return self._queued.position(record)

    # -- group commit -------------------------------------------------------------------------

    def _schedule_commit(self) -> None:
        if self._commit is not None or self._batching:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script, a unit test): commit at once
            self.flush()
            return
        self._commit = loop.create_future()
        loop.call_soon(self._commit_now)

    def _commit_now(self) -> None:
        waiting, self._commit = self._commit, None
        try:
            self.flush()
        except Exception as exc:  # the waiting answers fail; the writes stay pending
            if waiting is not None and not waiting.done():
                waiting.set_exception(exc)
            raise
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def durable(self) -> None:
        """Return once every write made so far is committed to the file."""
        if self._commit is not None:
            await asyncio.shield(self._commit)
        elif self._pending:
            self.flush()

    def flush(self) -> None:
        """Write every pending record in one transaction."""
        if not self._pending:
            return
        inserts = [r for i, r in self._pending.items() if i in self._new]
        updates = [r for i, r in self._pending.items() if i not in self._new]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO requests (seq, request_id, status, priority_rank, version, data)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (r.seq, r.request_id, r.status, r.priority_rank, r.version, self._encode(r))
                        for r in inserts
                    ],
                )
                self._db.executemany(
                    "UPDATE requests SET status = ?, priority_rank = ?, version = ?, data = ?"
                    " WHERE request_id = ?",
                    [
                        (r.status, r.priority_rank, r.version, self._encode(r), r.request_id)
                        for r in updates
                    ],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._pending.clear()
        self._new.clear()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """A replay's transitions: one commit when the replay ends, not one each."""
        if self._batching:
            yield
            return
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self.flush()

    # -- reads that scan the file see every write first ---------------------------------------

    def unfinished(self) -> list[RequestRecord]:
        self.flush()
        return super().unfinished()

    def recent(self, limit: int) -> list[RequestRecord]:
        self.flush()
        return super().recent(limit)

    def clear(self) -> None:
        self._pending.clear()
        self._new.clear()
        super().clear()
        self._kept.clear()
        self._queued.clear()

    def close(self) -> None:
        self.flush()
        super().close()


class SharedSqliteStore(_SqliteFile):
    """The store of each worker of ``serve --workers N``: several processes write one file.

    Every read asks the file (another worker may have written), skipping only the JSON decode
    when the row's version is one this process already holds (every save bumps it); writes
    commit at once and are optimistic: a save whose version moved on under it fails, and the
    queue decides again on a fresh read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._decoded: dict[str, RequestRecord] = {}
        self._batching = False

    def _remember(self, record: RequestRecord) -> RequestRecord:
        if len(self._decoded) >= DECODED_CACHE_SIZE and record.request_id not in self._decoded:
            del self._decoded[next(iter(self._decoded))]  # the oldest entry
        kept = self._decoded[record.request_id] = record.copy()
        return kept

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

    def view(self, request_id: str) -> RequestRecord | None:
        row = self._row(request_id)
        if row is None:
            return None
        known = self._decoded.get(request_id)
        if known is not None and known.version == row[1]:
            return known
        return self._remember(self._decode((row[0], row[2])))

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

    def position(self, record: RequestRecord) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM requests WHERE status = 'IN_QUEUE'"
                " AND (priority_rank, seq) < (?, ?)",
                record.queue_key,
            ).fetchone()
        return int(count)

    async def durable(self) -> None:
        """Writes commit as they are made."""

    def clear(self) -> None:
        super().clear()
        self._decoded.clear()

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
