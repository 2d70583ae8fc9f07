"""Where uploaded files live: bytes under ``state_dir/files/``, metadata in its own SQLite file.

Kept apart from the request store on purpose: uploads outlive requests, several worker
processes can share one directory (WAL mode), and the request store stays untouched.
Every time rule (object expiry, CDN token expiry, upload-URL expiry) reads the emulator's
clock, so a test that advances the clock sees objects expire exactly as it would live.

Layout::

    files/files.sqlite3          objects, multipart uploads and their parts, CDN tokens
    files/objects/<object_id>    the bytes of a finished object
    (outputs)                    generated files: an id per generation, bytes in the media cache
    (output_expiry)              when a generated file expires (the submit's lifecycle header)
    files/parts/<upload_id>/<n>  multipart parts until the upload completes
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import shutil
import sqlite3
import string
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from mockserver.clock import Clock

ObjectState = Literal["pending", "ready", "expired"]
TokenCheck = Literal["ok", "unknown", "expired"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_id TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    part_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    expires_at REAL,
    upload_secret TEXT,
    upload_expires_at REAL,
    shard TEXT
);
CREATE TABLE IF NOT EXISTS multipart (
    upload_id TEXT PRIMARY KEY,
    object_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE IF NOT EXISTS outputs (
    file_id TEXT PRIMARY KEY,
    shard TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_key TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS output_expiry (
    file_id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""
OBJECT_COLUMNS = (
    "object_id, file_name, content_type, state, size, etag, part_count, created_at, expires_at, "
    "upload_secret, upload_expires_at, shard"
)


@dataclass
class StoredObject:
    object_id: str
    file_name: str
    content_type: str
    state: ObjectState
    size: int
    etag: str | None
    part_count: int
    created_at: float
    expires_at: float | None
    upload_secret: str | None
    upload_expires_at: float | None
    shard: str | None
    """The ``files/b/<shard>/`` of the object's URL; None for objects stored before uploads
    took fal's current URL shape (served at ``files/uploads/<object_id>/<name>``)."""

    def expired(self, now: float) -> bool:
        return self.state == "expired" or (self.expires_at is not None and now >= self.expires_at)


@dataclass(frozen=True)
class OutputFile:
    """One generation's file on the CDN: its own id, the cached render it serves."""

    file_id: str
    shard: str
    file_name: str
    media_key: str
    content_type: str | None = None
    """What it is served as; None: as its name says (a render: video/mp4)."""


FILE_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
FILE_ID_LENGTH = 21
"""fal's file ids are 21-character nanoids (``9rVJtQ2ukp9cid8lheutF_output.mp4``)."""


def is_file_id(text: str) -> bool:
    """Whether ``text`` could be an id ``new_file_id`` made (safe as a file name)."""
    return len(text) == FILE_ID_LENGTH and all(c in FILE_ID_ALPHABET for c in text)


def new_file_id() -> str:
    """nanoid's own method: one random byte per character, masked to the 64-letter alphabet
    (uniform, since 64 divides 256); a tenth of the cost of 21 ``secrets.choice`` calls."""
    return "".join([FILE_ID_ALPHABET[byte & 63] for byte in secrets.token_bytes(FILE_ID_LENGTH)])


def new_shard() -> str:
    """The 8 hex digits after ``files/b/`` (``0aac27e0``)."""
    return secrets.token_hex(4)


def split_file_name(name: str) -> tuple[str, str] | None:
    """``<21-char id>_<file name>`` (the last segment of a CDN file URL) as (id, file name)."""
    file_id, separator, file_name = (
        name[:FILE_ID_LENGTH],
        name[FILE_ID_LENGTH : FILE_ID_LENGTH + 1],
        name[FILE_ID_LENGTH + 1 :],
    )
    return (file_id, file_name) if separator == "_" and file_name else None


def new_object(
    file_name: str,
    content_type: str,
    now: float,
    lifetime_seconds: float | None,
    upload_url_seconds: float | None,
) -> StoredObject:
    """A pending object made at ``now``, with its id, shard and (when it has a signed
    ``upload_url``) the secret that signs it."""
    return StoredObject(
        object_id=new_file_id(),
        file_name=file_name,
        content_type=content_type,
        state="pending",
        size=0,
        etag=None,
        part_count=0,
        created_at=now,
        expires_at=None if lifetime_seconds is None else now + lifetime_seconds,
        upload_secret=None if upload_url_seconds is None else secrets.token_urlsafe(24),
        upload_expires_at=None if upload_url_seconds is None else now + upload_url_seconds,
        shard=new_shard(),
    )


@dataclass(frozen=True)
class Part:
    part_number: int
    size: int
    etag: str


def quoted_etag(md5_hex: str) -> str:
    """S3-style ETag: the MD5 hex in double quotes (what fal's CDN and GCS answer)."""
    return f'"{md5_hex}"'


def bare_etag(value: str) -> str:
    """An ETag without its quotes or ``W/``: the MD5 hex of ours."""
    return value.strip().removeprefix("W/").strip('"')


def same_etag(a: str, b: str) -> bool:
    """Clients echo ETags with or without quotes (and proxies may add ``W/``)."""
    return bare_etag(a) == bare_etag(b)


class Files(Protocol):
    """What the storage API and the output publisher need of a file store: ``FileStore`` keeps
    one process's files, ``shared.files.SharedFileStore`` the files of every replica."""

    clock: Clock
    root: Path

    def close(self) -> None: ...
    def incoming_path(self) -> Path: ...
    def issue_token(self, ttl_seconds: float) -> tuple[str, float, float]: ...
    def check_token(self, token: str) -> TokenCheck: ...
    def create(
        self,
        file_name: str,
        content_type: str,
        *,
        lifetime_seconds: float | None,
        upload_url_seconds: float | None = None,
    ) -> StoredObject: ...
    def get(self, object_id: str) -> StoredObject | None: ...
    def upload_secret_matches(self, obj: StoredObject, secret: str) -> bool: ...
    def finish(
        self, obj: StoredObject, source: Path, size: int, etag: str, parts: int = 0
    ) -> None: ...
    def blob_file(self, obj: StoredObject) -> Path: ...
    def readable(self, object_id: str) -> StoredObject | None: ...
    def expire(self, obj: StoredObject) -> None: ...
    def sweep(self) -> int: ...
    def add_output(
        self, media_key: str, file_name: str, content_type: str | None = None
    ) -> OutputFile: ...
    def expire_output(self, file_id: str, at: float) -> None: ...
    def output_expired(self, file_id: str) -> bool: ...
    def output(self, file_id: str) -> OutputFile | None: ...
    def start_multipart(self, obj: StoredObject) -> str: ...
    def multipart_object(self, upload_id: str) -> str | None: ...
    def save_part(self, upload_id: str, part: Part, source: Path) -> None: ...
    def parts(self, upload_id: str) -> dict[int, Part]: ...
    def complete_multipart(self, obj: StoredObject, upload_id: str, numbers: list[int]) -> None: ...


class ServesUntilExpiry:
    """``readable`` for a file store: what ``get`` finds, if ready and not expired by the
    store's clock (an expired one is swept on the way)."""

    clock: Clock

    def get(self, object_id: str) -> StoredObject | None:
        raise NotImplementedError

    def expire(self, obj: StoredObject) -> None:
        raise NotImplementedError

    def readable(self, object_id: str) -> StoredObject | None:
        """The object if it can be served now; an expired one is swept on the way."""
        obj = self.get(object_id)
        if obj is None or obj.state != "ready":
            return None
        if obj.expired(self.clock.now()):
            self.expire(obj)
            return None
        return obj


class FileStore(ServesUntilExpiry):
    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = Path(root)
        self.clock = clock
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "parts").mkdir(parents=True, exist_ok=True)
        (self.root / "incoming").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.root / "files.sqlite3", isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crash of ours
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._add_shard_column()
        self._add_output_type_column()
        self._new_outputs: dict[str, tuple[OutputFile, float]] = {}

    def _add_output_type_column(self) -> None:
        """A store written before outputs had their own type gets the column (rows keep NULL)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outputs)")}
        if "content_type" not in columns:
            self._db.execute("ALTER TABLE outputs ADD COLUMN content_type TEXT")

    def _add_shard_column(self) -> None:
        """A store written before uploads had shards gets the column (its rows keep NULL)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(objects)")}
        if "shard" not in columns:
            # another worker process may have added it first
            with contextlib.suppress(sqlite3.OperationalError):
                self._db.execute("ALTER TABLE objects ADD COLUMN shard TEXT")

    def close(self) -> None:
        self.flush_outputs()
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # -- paths ---------------------------------------------------------------------------------

    def blob_path(self, object_id: str) -> Path:
        return self.root / "objects" / object_id

    def part_path(self, upload_id: str, part_number: int) -> Path:
        return self.root / "parts" / upload_id / str(part_number)

    def incoming_path(self) -> Path:
        """A fresh temp file in the store's own directory (so the final rename is atomic)."""
        return self.root / "incoming" / secrets.token_hex(8)

    # -- CDN tokens ----------------------------------------------------------------------------

    def issue_token(self, ttl_seconds: float) -> tuple[str, float, float]:
        """A new CDN token, when it was issued and when it expires (emulated clock)."""
        now = self.clock.now()
        token = "emu-" + secrets.token_urlsafe(24)
        self._run("INSERT INTO tokens VALUES (?, ?, ?)", (token, now, now + ttl_seconds))
        return token, now, now + ttl_seconds

    def check_token(self, token: str) -> TokenCheck:
        rows = self._run("SELECT expires_at FROM tokens WHERE token = ?", (token,))
        if not rows:
            return "unknown"
        return "expired" if self.clock.now() >= rows[0][0] else "ok"

    # -- objects -------------------------------------------------------------------------------

    def create(
        self,
        file_name: str,
        content_type: str,
        *,
        lifetime_seconds: float | None,
        upload_url_seconds: float | None = None,
    ) -> StoredObject:
        """A pending object; ``upload_url_seconds`` also gives it a signed-upload secret."""
        obj = new_object(
            file_name, content_type, self.clock.now(), lifetime_seconds, upload_url_seconds
        )
        self._run(
            f"INSERT INTO objects ({OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                obj.object_id,
                obj.file_name,
                obj.content_type,
                obj.state,
                obj.size,
                obj.etag,
                obj.part_count,
                obj.created_at,
                obj.expires_at,
                obj.upload_secret,
                obj.upload_expires_at,
                obj.shard,
            ),
        )
        return obj

    def get(self, object_id: str) -> StoredObject | None:
        rows = self._run(f"SELECT {OBJECT_COLUMNS} FROM objects WHERE object_id = ?", (object_id,))
        return StoredObject(*rows[0]) if rows else None

    def upload_secret_matches(self, obj: StoredObject, secret: str) -> bool:
        return obj.upload_secret is not None and hmac.compare_digest(obj.upload_secret, secret)

    def finish(self, obj: StoredObject, source: Path, size: int, etag: str, parts: int = 0) -> None:
        """Move finished bytes into place and mark the object ready."""
        source.replace(self.blob_path(obj.object_id))
        self._run(
            "UPDATE objects SET state = 'ready', size = ?, etag = ?, part_count = ? "
            "WHERE object_id = ?",
            (size, etag, parts, obj.object_id),
        )
        obj.state, obj.size, obj.etag, obj.part_count = "ready", size, etag, parts

    def blob_file(self, obj: StoredObject) -> Path:
        """A ready object's bytes as a file of this process (they are always on this disk)."""
        return self.blob_path(obj.object_id)

    def expire(self, obj: StoredObject) -> None:
        self.blob_path(obj.object_id).unlink(missing_ok=True)
        self._run("UPDATE objects SET state = 'expired' WHERE object_id = ?", (obj.object_id,))
        obj.state = "expired"

    def sweep(self) -> int:
        """Expire every object whose time has passed (bytes deleted, metadata kept for 410s)."""
        rows = self._run(
            f"SELECT {OBJECT_COLUMNS} FROM objects "
            "WHERE state != 'expired' AND expires_at IS NOT NULL AND expires_at <= ?",
            (self.clock.now(),),
        )
        for row in rows:
            self.expire(StoredObject(*row))
        return len(rows)

    # -- generated files -----------------------------------------------------------------------

    def add_output(
        self, media_key: str, file_name: str, content_type: str | None = None
    ) -> OutputFile:
        """A new CDN file for one generation; the bytes stay in the content-addressed cache.

        Rows are written in groups: every output made in one event-loop tick commits at the
        next one, before the queue can mark its request completed (that takes a later tick:
        the producer's kick wakes the driver), so no client learns a URL that is not on disk.
        """
        output = OutputFile(new_file_id(), new_shard(), file_name, media_key, content_type)
        self._new_outputs[output.file_id] = (output, self.clock.now())
        if len(self._new_outputs) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush_outputs)
            except RuntimeError:  # no event loop: write at once
                self.flush_outputs()
        return output

    def flush_outputs(self) -> None:
        pending = list(self._new_outputs.values())
        if not pending:
            return
        with self._lock, self._db:  # one transaction for the group
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO outputs (file_id, shard, file_name, media_key, created_at,"
                " content_type) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (o.file_id, o.shard, o.file_name, o.media_key, at, o.content_type)
                    for o, at in pending
                ],
            )
        for output, _ in pending:
            self._new_outputs.pop(output.file_id, None)

    def expire_output(self, file_id: str, at: float) -> None:
        """Let a generated file expire at ``at`` (emulated time): the submit's lifecycle."""
        self._run("INSERT OR REPLACE INTO output_expiry VALUES (?, ?)", (file_id, at))

    def output_expired(self, file_id: str) -> bool:
        rows = self._run("SELECT expires_at FROM output_expiry WHERE file_id = ?", (file_id,))
        return bool(rows) and self.clock.now() >= rows[0][0]

    def output(self, file_id: str) -> OutputFile | None:
        if (pending := self._new_outputs.get(file_id)) is not None:
            return pending[0]
        rows = self._run(
            "SELECT file_id, shard, file_name, media_key, content_type FROM outputs"
            " WHERE file_id = ?",
            (file_id,),
        )
        return OutputFile(*rows[0]) if rows else None

    # -- multipart -----------------------------------------------------------------------------

    def start_multipart(self, obj: StoredObject) -> str:
        upload_id = secrets.token_urlsafe(18)
        self._run(
            "INSERT INTO multipart VALUES (?, ?, ?)", (upload_id, obj.object_id, self.clock.now())
        )
        (self.root / "parts" / upload_id).mkdir()
        return upload_id

    def multipart_object(self, upload_id: str) -> str | None:
        rows = self._run("SELECT object_id FROM multipart WHERE upload_id = ?", (upload_id,))
        return rows[0][0] if rows else None

    def save_part(self, upload_id: str, part: Part, source: Path) -> None:
        source.replace(self.part_path(upload_id, part.part_number))
        self._run(
            "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?)",
            (upload_id, part.part_number, part.size, part.etag),
        )

    def parts(self, upload_id: str) -> dict[int, Part]:
        rows = self._run(
            "SELECT part_number, size, etag FROM parts WHERE upload_id = ?", (upload_id,)
        )
        return {row[0]: Part(*row) for row in rows}

    def complete_multipart(self, obj: StoredObject, upload_id: str, numbers: list[int]) -> None:
        """Join the listed parts, in order, into ``obj``'s bytes and forget the upload's parts
        (blocking file work: the handler runs it in a thread)."""
        incoming = self.incoming_path()
        paths = [self.part_path(upload_id, number) for number in numbers]
        size, md5_hex = concatenate(paths, incoming)
        self.finish(obj, incoming, size, quoted_etag(md5_hex), parts=len(numbers))
        self.end_multipart(upload_id)

    def end_multipart(self, upload_id: str) -> None:
        self._run("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        self._run("DELETE FROM multipart WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self.root / "parts" / upload_id, ignore_errors=True)


def concatenate(paths: list[Path], dest: Path) -> tuple[int, str]:
    """Write ``paths`` one after the other into ``dest``: (size, MD5 hex of the whole)."""
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
