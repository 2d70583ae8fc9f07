"""``SharedFileStore``: uploads and generated files that every replica serves, kept in Redis.

fal's CDN is one namespace whoever stored a file: a token one replica issued, a file another
took, a video a third published must work through any of them. So what ``FileStore`` keeps in
one process's SQLite file and directory lives in Redis here, bytes included:

- an upload's bytes are chunks of ``CHUNK_BYTES`` (a Redis string stops at 512 MB; chunks
  keep ``--max-upload-bytes`` meaning what it says). A replica serving a file it did not take
  fetches them once into its own ``files/objects/``, so serving stays a file response (Range,
  HEAD) with the same headers (its mtime, hence ``Last-Modified``, is the original's); a
  signed PUT may replace the bytes, so a local copy is trusted only for the ETag it was
  fetched for;
- a multipart upload's parts are chunks too; completion reads them once (the ETag is the MD5
  of the whole) and renames them into the object's chunks, without writing them again;
- a generated file's bytes are the cached render it was published from: the replica that
  publishes it puts the render into Redis (once per cache key: renders are content-addressed,
  so a key's bytes never change), and a replica serving it writes it into its own media cache.

Keys (under the emulator's prefix): ``files:token:<token>``; ``files:object:<id>`` (a hash of
``StoredObject`` and its chunks), ``files:object-bytes:<id>:<md5>:<n>``, ``files:expiring``
(object ids by expiry); ``files:multipart:<upload id>``, ``files:parts:<upload id>`` (number
-> size, ETag, chunks), ``files:part-bytes:<upload id>:<number>:<md5>:<n>``;
``files:output:<file id>`` (a hash), ``files:media:<key>`` (size, chunks, mtime),
``files:media-bytes:<key>:<n>``. Hash values are JSON. Every time rule reads the shared clock,
as ``FileStore``'s do, and a reset keeps files, as it does in one process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mockserver.clock import Clock
from mockserver.media.cache import SUFFIX, TEMP_PREFIX, is_valid_key
from mockserver.storage.files import (
    OutputFile,
    Part,
    ServesUntilExpiry,
    StoredObject,
    TokenCheck,
    bare_etag,
    is_file_id,
    new_file_id,
    new_object,
    new_shard,
    quoted_etag,
)

if TYPE_CHECKING:
    import redis

    from mockserver.shared.connection import SharedRedis

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes per Redis string: a few ms each on a LAN, far under the command timeout and the
512 MB a string may hold."""
OUTPUTS_KEPT = 4096
TOKENS_REMEMBERED = 4096
"""CDN tokens a replica keeps in memory after reading them (the oldest leave first)."""
TOKEN_KEPT_AFTER_EXPIRY = 7 * 24 * 3600.0
"""Real seconds a CDN token stays in Redis after its lifetime, answering ``token_expired``."""
"""Generated files whose metadata a replica keeps in memory (the newest it made or read)."""
FILE_EXPIRED = "f"
"""The event other replicas hear when an upload expires: they drop their copy of its bytes."""
OBJECT_FIELDS = tuple(f.name for f in dataclasses.fields(StoredObject))


def encode(values: dict[str, Any]) -> dict[str, str]:
    return {name: json.dumps(value) for name, value in values.items()}


def decode(raw: dict[bytes, bytes]) -> dict[str, Any]:
    return {name.decode(): json.loads(value) for name, value in raw.items()}


def chunk_keys(base: str, count: int) -> list[str]:
    return [f"{base}:{n}" for n in range(count)]


class SharedFileStore(ServesUntilExpiry):
    """``FileStore``'s interface (``storage.files.Files``) over Redis, for replicas."""

    def __init__(self, root: Path, clock: Clock, shared: SharedRedis, media_dir: Path) -> None:
        self.root = Path(root)
        self.clock = clock
        self.shared = shared
        self.media_dir = Path(media_dir)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "incoming").mkdir(parents=True, exist_ok=True)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self._tokens: dict[str, float] = {}
        """Token -> expiry: a token never changes once issued, so each is read once."""
        self._outputs: dict[str, OutputFile] = {}
        """Generated files made or read lately: they never change (their expiry is read each
        time), so a replica serving its own asks Redis only for that."""
        self._copies: dict[str, str] = {}
        """Object id -> the ETag of the bytes in ``objects/`` (this process's copies)."""
        self._published: set[str] = set()
        """Render keys known to be in Redis."""

    @property
    def _redis(self) -> redis.Redis:
        return self.shared.sync

    def _key(self, kind: str, name: str = "") -> str:
        return self.shared.keys.of(f"files:{kind}", name)

    def close(self) -> None:
        """Nothing of its own to close: the connection is the replica's."""

    # -- paths ---------------------------------------------------------------------------------

    def blob_path(self, object_id: str) -> Path:
        return self.root / "objects" / object_id

    def incoming_path(self) -> Path:
        return self.root / "incoming" / secrets.token_hex(8)

    def _missing(self, name: str) -> Path:
        return self.root / "missing" / name

    # -- chunks --------------------------------------------------------------------------------

    def _write_chunks(self, base: str, source: Path) -> int:
        """``source``'s bytes as ``<base>:0``, ``<base>:1``...; how many chunks."""
        count = 0
        with source.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                self._redis.set(f"{base}:{count}", chunk)
                count += 1
        return count

    def _read_chunks(self, bases: list[tuple[str, int]], out: IO[bytes]) -> tuple[int, str]:
        """Every chunk of ``bases`` in order into ``out``: (size, MD5 hex); FileNotFoundError
        when one is gone (expired or replaced meanwhile)."""
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        for key in (key for base, count in bases for key in chunk_keys(base, count)):
            chunk = self._redis.get(key)
            if chunk is None:
                raise FileNotFoundError(key)
            md5.update(chunk)
            out.write(chunk)
            size += len(chunk)
        return size, md5.hexdigest()

    def _fetch(self, dest: Path, temp: Path, base: str, meta: dict[str, Any]) -> bool:
        """Write the chunks ``meta`` counts to ``dest`` (whole or not at all), with the
        original's mtime; False when they are gone."""
        try:
            with temp.open("wb") as out:
                size, _ = self._read_chunks([(base, meta["chunks"])], out)
            if size != meta["size"]:
                return False
            os.utime(temp, (meta["mtime"], meta["mtime"]))
            temp.replace(dest)
            return True
        except FileNotFoundError:
            return False
        finally:
            temp.unlink(missing_ok=True)

    # -- CDN tokens ----------------------------------------------------------------------------

    def issue_token(self, ttl_seconds: float) -> tuple[str, float, float]:
        now = self.clock.now()
        token = "emu-" + secrets.token_urlsafe(24)
        # Gone from Redis a week after it expires (the emulated clock never runs behind real
        # time, so by then it has expired here too): issued tokens cannot pile up for good.
        self._redis.set(
            self._key("token", token),
            repr(now + ttl_seconds),
            ex=max(1, int(ttl_seconds + TOKEN_KEPT_AFTER_EXPIRY)),
        )
        self._remember_token(token, now + ttl_seconds)
        return token, now, now + ttl_seconds

    def _remember_token(self, token: str, expires_at: float) -> None:
        if len(self._tokens) >= TOKENS_REMEMBERED and token not in self._tokens:
            del self._tokens[next(iter(self._tokens))]  # the oldest
        self._tokens[token] = expires_at

    def check_token(self, token: str) -> TokenCheck:
        expires_at = self._tokens.get(token)
        if expires_at is None:
            raw = self._redis.get(self._key("token", token))
            if raw is None:
                return "unknown"
            expires_at = float(raw)
            self._remember_token(token, expires_at)
        return "expired" if self.clock.now() >= expires_at else "ok"

    # -- objects -------------------------------------------------------------------------------

    def _object_bytes(self, object_id: str, etag: str) -> str:
        return self._key("object-bytes", f"{object_id}:{bare_etag(etag)}")

    def create(
        self,
        file_name: str,
        content_type: str,
        *,
        lifetime_seconds: float | None,
        upload_url_seconds: float | None = None,
    ) -> StoredObject:
        obj = new_object(
            file_name, content_type, self.clock.now(), lifetime_seconds, upload_url_seconds
        )
        with self._redis.pipeline() as pipe:
            pipe.hset(self._key("object", obj.object_id), mapping=encode(dataclasses.asdict(obj)))
            if obj.expires_at is not None:
                pipe.zadd(self._key("expiring"), {obj.object_id: obj.expires_at})
            pipe.execute()
        return obj

    def get(self, object_id: str) -> StoredObject | None:
        raw = self._redis.hgetall(self._key("object", object_id))
        if not raw:
            return None
        fields = decode(raw)
        return StoredObject(**{name: fields.get(name) for name in OBJECT_FIELDS})

    def upload_secret_matches(self, obj: StoredObject, secret: str) -> bool:
        return obj.upload_secret is not None and secrets.compare_digest(obj.upload_secret, secret)

    def finish(self, obj: StoredObject, source: Path, size: int, etag: str, parts: int = 0) -> None:
        """Put the bytes into Redis, keep them as this replica's copy, mark the object ready."""
        chunks = self._write_chunks(self._object_bytes(obj.object_id, etag), source)
        self._keep_copy(obj, source, size, etag, parts, chunks)

    def _keep_copy(
        self, obj: StoredObject, source: Path, size: int, etag: str, parts: int, chunks: int
    ) -> None:
        dest = self.blob_path(obj.object_id)
        source.replace(dest)
        self._copies[obj.object_id] = etag
        key = self._key("object", obj.object_id)
        before = self._redis.hmget(key, "etag", "chunks")
        ready = {"state": "ready", "size": size, "etag": etag, "part_count": parts}
        ready |= {"chunks": chunks, "mtime": dest.stat().st_mtime}
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping=encode(ready))
            old_etag, old_chunks = (json.loads(v) if v is not None else None for v in before)
            if old_etag is not None and bare_etag(old_etag) != bare_etag(etag) and old_chunks:
                pipe.delete(*chunk_keys(self._object_bytes(obj.object_id, old_etag), old_chunks))
            pipe.execute()
        obj.state, obj.size, obj.etag, obj.part_count = "ready", size, etag, parts

    def blob_file(self, obj: StoredObject) -> Path:
        """The ready object's bytes on this disk: this replica's copy, fetched from Redis when
        it has none (or one of other bytes); a path that does not exist when they are gone."""
        dest = self.blob_path(obj.object_id)
        if obj.etag is not None and self._copies.get(obj.object_id) == obj.etag and dest.is_file():
            return dest
        raw = self._redis.hmget(self._key("object", obj.object_id), "etag", "chunks", "mtime")
        if None in raw or obj.etag is None or json.loads(raw[0]) != obj.etag:
            return self._missing(obj.object_id)  # replaced or expired since ``obj`` was read
        meta = {"size": obj.size, "chunks": json.loads(raw[1]), "mtime": json.loads(raw[2])}
        base = self._object_bytes(obj.object_id, obj.etag)
        if not self._fetch(dest, self.incoming_path(), base, meta):
            return self._missing(obj.object_id)
        self._copies[obj.object_id] = obj.etag
        return dest

    def expire(self, obj: StoredObject) -> None:
        """Delete the bytes everywhere (the other replicas drop their copies as they hear it);
        the metadata stays, for the 410."""
        self.drop_copy(obj.object_id)
        key = self._key("object", obj.object_id)
        etag, chunks = self._redis.hmget(key, "etag", "chunks")
        with self._redis.pipeline() as pipe:
            pipe.hset(key, "state", json.dumps("expired"))
            pipe.zrem(self._key("expiring"), obj.object_id)
            if etag is not None and chunks is not None and json.loads(chunks):
                base = self._object_bytes(obj.object_id, json.loads(etag))
                pipe.delete(*chunk_keys(base, json.loads(chunks)))
            pipe.execute()
        self.shared.announce(FILE_EXPIRED, obj.object_id)
        obj.state = "expired"

    def drop_copy(self, object_id: str) -> None:
        """The upload expired (here, or on a replica this one heard): its copy here goes.
        The id arrives over pub/sub: only a well-formed one names a file to delete."""
        if not is_file_id(object_id):
            log.warning("ignoring an expiry event for %r: not a file id", object_id[:64])
            return
        self._copies.pop(object_id, None)
        self.blob_path(object_id).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Expire every object whose time has passed (bytes deleted, metadata kept for 410s)."""
        due = self._redis.zrangebyscore(self._key("expiring"), "-inf", self.clock.now())
        for raw_id in due:
            obj = self.get(raw_id.decode())
            if obj is not None and obj.state != "expired":
                self.expire(obj)
            else:
                self._redis.zrem(self._key("expiring"), raw_id)
        return len(due)

    # -- generated files -----------------------------------------------------------------------

    def _media_path(self, key: str) -> Path:
        return self.media_dir / f"{key}{SUFFIX}"

    def add_output(
        self, media_key: str, file_name: str, content_type: str | None = None
    ) -> OutputFile:
        """A new CDN file for one generation, in Redis with its render before the request it
        belongs to can complete: any replica serves it as soon as a client learns its URL."""
        output = OutputFile(new_file_id(), new_shard(), file_name, media_key, content_type)
        self._publish_render(media_key)
        fields = dataclasses.asdict(output)
        del fields["file_id"]
        self._redis.hset(
            self._key("output", output.file_id),
            mapping=encode({**fields, "created_at": self.clock.now()}),
        )
        self._remember(output)
        return output

    def _remember(self, output: OutputFile) -> None:
        self._outputs[output.file_id] = output
        if len(self._outputs) > OUTPUTS_KEPT:
            del self._outputs[next(iter(self._outputs))]  # the oldest

    def _publish_render(self, key: str) -> None:
        if key in self._published:
            return
        meta_key = self._key("media", key)
        if not self._redis.exists(meta_key):
            path = self._media_path(key)
            if not is_valid_key(key) or not path.is_file():
                log.warning("render %s is not in the media cache: only this replica has it", key)
                return
            stat = path.stat()
            chunks = self._write_chunks(self._key("media-bytes", key), path)
            meta = {"size": stat.st_size, "chunks": chunks, "mtime": stat.st_mtime}
            self._redis.hset(meta_key, mapping=encode(meta))
        self._published.add(key)

    def _fetch_render(self, key: str) -> None:
        """Write a render another replica published into this replica's media cache."""
        if not is_valid_key(key) or self._media_path(key).is_file():
            return
        raw = self._redis.hgetall(self._key("media", key))
        if not raw:
            return
        temp = self.media_dir / f"{TEMP_PREFIX}{key}-{secrets.token_hex(8)}{SUFFIX}"
        if self._fetch(self._media_path(key), temp, self._key("media-bytes", key), decode(raw)):
            self._published.add(key)

    def expire_output(self, file_id: str, at: float) -> None:
        self._redis.hset(self._key("output", file_id), "expires_at", json.dumps(at))

    def output_expired(self, file_id: str) -> bool:
        raw = self._redis.hget(self._key("output", file_id), "expires_at")
        return raw is not None and self.clock.now() >= json.loads(raw)

    def output(self, file_id: str) -> OutputFile | None:
        """A generated file, its render on this disk (fetched the first time it is asked for
        here): what a URL serves and what a later request reads back as its input."""
        output = self._outputs.get(file_id)
        if output is None:
            raw = self._redis.hgetall(self._key("output", file_id))
            fields = decode(raw) if raw else {}
            if "media_key" not in fields:
                return None
            output = OutputFile(
                file_id,
                fields["shard"],
                fields["file_name"],
                fields["media_key"],
                fields.get("content_type"),
            )
            self._remember(output)
        self._fetch_render(output.media_key)
        return output

    # -- multipart -----------------------------------------------------------------------------

    def _part_bytes(self, upload_id: str, number: int, etag: str) -> str:
        return self._key("part-bytes", f"{upload_id}:{number}:{bare_etag(etag)}")

    def start_multipart(self, obj: StoredObject) -> str:
        upload_id = secrets.token_urlsafe(18)
        self._redis.hset(
            self._key("multipart", upload_id),
            mapping=encode({"object_id": obj.object_id, "created_at": self.clock.now()}),
        )
        return upload_id

    def multipart_object(self, upload_id: str) -> str | None:
        raw = self._redis.hget(self._key("multipart", upload_id), "object_id")
        return None if raw is None else json.loads(raw)

    def _entries(self, upload_id: str) -> dict[int, tuple[int, str, int]]:
        """Part number -> (size, ETag, chunks)."""
        raw = self._redis.hgetall(self._key("parts", upload_id))
        return {int(number): tuple(json.loads(entry)) for number, entry in raw.items()}

    def save_part(self, upload_id: str, part: Part, source: Path) -> None:
        base = self._part_bytes(upload_id, part.part_number, part.etag)
        chunks = self._write_chunks(base, source)
        source.unlink(missing_ok=True)
        key = self._key("parts", upload_id)
        before = self._redis.hget(key, str(part.part_number))
        self._redis.hset(key, str(part.part_number), json.dumps([part.size, part.etag, chunks]))
        if before is not None:  # sent again: the bytes it replaced go
            _, old_etag, old_chunks = json.loads(before)
            if bare_etag(old_etag) != bare_etag(part.etag) and old_chunks:
                base = self._part_bytes(upload_id, part.part_number, old_etag)
                self._redis.delete(*chunk_keys(base, old_chunks))

    def parts(self, upload_id: str) -> dict[int, Part]:
        return {
            number: Part(number, size, etag)
            for number, (size, etag, _) in self._entries(upload_id).items()
        }

    def complete_multipart(self, obj: StoredObject, upload_id: str, numbers: list[int]) -> None:
        """Read the listed parts once (this replica's copy, and the ETag), then rename their
        chunks into the object's: the bytes are not written to Redis again."""
        entries = self._entries(upload_id)
        sources = [(self._part_bytes(upload_id, n, entries[n][1]), entries[n][2]) for n in numbers]
        incoming = self.incoming_path()
        try:
            with incoming.open("wb") as out:
                size, md5_hex = self._read_chunks(sources, out)
            etag = quoted_etag(md5_hex)
            renamed = list(self._chunk_names(sources))
            with self._redis.pipeline(transaction=False) as pipe:
                for n, old in enumerate(renamed):
                    pipe.rename(old, f"{self._object_bytes(obj.object_id, etag)}:{n}")
                pipe.execute()
            self._keep_copy(obj, incoming, size, etag, len(numbers), len(renamed))
        finally:
            incoming.unlink(missing_ok=True)
        self.end_multipart(upload_id, entries)

    @staticmethod
    def _chunk_names(sources: list[tuple[str, int]]) -> Iterator[str]:
        for base, count in sources:
            yield from chunk_keys(base, count)

    def end_multipart(
        self, upload_id: str, entries: dict[int, tuple[int, str, int]] | None = None
    ) -> None:
        """Forget the upload and the bytes of any part it did not use."""
        entries = self._entries(upload_id) if entries is None else entries
        leftovers = [
            key
            for number, (_, etag, chunks) in entries.items()
            for key in chunk_keys(self._part_bytes(upload_id, number, etag), chunks)
        ]
        self._redis.delete(self._key("multipart", upload_id), self._key("parts", upload_id))
        for start in range(0, len(leftovers), 500):  # renamed ones are gone already: no-ops
            self._redis.delete(*leftovers[start : start + 500])
