"""``RedisStore``: request records every replica reads and writes, in one Redis.

Each record is a hash (``d``: the fields as JSON, ``v``: its version, ``s``: its submission
number); three sorted sets keep the order the protocol reads (every id by ``seq``, the
unfinished and the queued ones by queue order), and ``owners`` says which replica drives each
unfinished request. A write is one Lua script, so it is atomic and one round trip: ``add``
numbers the record, files it in the sets and names its owner; ``save`` is a compare-and-set on
the version (two replicas racing on one transition: one wins, the other reads again, as with
the SQLite store shared by workers), moves the id between sets, and publishes the change.
Writes are acknowledged by Redis before they return, so "accepted" means "in Redis" (and on
disk with ``appendfsync always``): ``durable`` has nothing to wait for.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import orjson

from mockserver.records import RequestRecord

if TYPE_CHECKING:
    from mockserver.shared.connection import SharedRedis

QUEUE_KEY_SPAN = 2**40
"""A queue key (priority rank, seq) as one score: rank * 2**40 + seq, exact in a double."""
DECODED_CACHE_SIZE = 4096

ADD = """
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'd', ARGV[1], 'v', ARGV[2], 's', seq)
local order = tonumber(ARGV[3]) * 1099511627776 + seq
redis.call('ZADD', KEYS[3], seq, ARGV[4])
redis.call('ZADD', KEYS[4], order, ARGV[4])
if ARGV[5] == 'IN_QUEUE' then redis.call('ZADD', KEYS[5], order, ARGV[4]) end
redis.call('HSET', KEYS[6], ARGV[4], ARGV[6])
redis.call('PUBLISH', KEYS[7], 'r ' .. ARGV[6] .. ' ' .. ARGV[4])
return {seq, redis.call('ZCOUNT', KEYS[5], '-inf', '(' .. order)}
"""
"""KEYS: seq, the record, all, unfinished, queued, owners, events.
ARGV: data, version, priority rank, id, status, this replica.
Returns the record's number and its queue position (the submit's answer carries it)."""

SAVE = """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', ARGV[3])
local order = tonumber(ARGV[5]) * 1099511627776 + tonumber(redis.call('HGET', KEYS[1], 's'))
if ARGV[4] == 'IN_QUEUE' then
  redis.call('ZADD', KEYS[2], order, ARGV[6])
else
  redis.call('ZREM', KEYS[2], ARGV[6])
end
if ARGV[4] == 'COMPLETED' then
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('HDEL', KEYS[4], ARGV[6])
else
  redis.call('ZADD', KEYS[3], order, ARGV[6])
end
redis.call('PUBLISH', KEYS[5], 'r ' .. ARGV[7] .. ' ' .. ARGV[6])
return 1
"""
"""KEYS: the record, queued, unfinished, owners, events.
ARGV: expected version, data, new version, status, priority rank, id, this replica."""

CLAIM = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then return 0 end
if owner == ARGV[2] then return 1 end
if redis.call('EXISTS', ARGV[3] .. owner) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
"""KEYS: owners. ARGV: id, this replica, the heartbeat key prefix. 1: this replica drives it
now (its owner's heartbeat had expired)."""


CLEAR = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #ids do redis.call('UNLINK', ARGV[1] .. ids[i]) end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return #ids
"""
"""KEYS: all, unfinished, queued, owners. ARGV: the record keys' prefix."""


def encode(record: RequestRecord) -> bytes:
    """The fields as compact JSON: orjson, or the standard library for what orjson refuses
    (an integer beyond 64 bits in a client's input)."""
    try:
        return orjson.dumps(vars(record))
    except TypeError:
        return json.dumps(vars(record), separators=(",", ":")).encode()


def decode(data: bytes, seq: bytes | int) -> RequestRecord:
    # The standard library: orjson would read an integer beyond 64 bits as a float.
    record = RequestRecord.from_dict(json.loads(data))
    record.seq = int(seq)
    return record


class RedisStore:
    """The ``RequestStore`` of ``serve --store redis://``: every replica's records in one Redis.

    Every read asks Redis (another replica may have written); a record whose bytes are the
    ones this replica decoded last is not decoded again."""

    def __init__(self, shared: SharedRedis) -> None:
        self._redis = shared.sync
        self._keys = shared.keys
        self._me = shared.replica_id
        self._add = self._redis.register_script(ADD)
        self._save = self._redis.register_script(SAVE)
        self._claim = self._redis.register_script(CLAIM)
        self._clear = self._redis.register_script(CLEAR)
        self._decoded: dict[str, tuple[bytes, RequestRecord]] = {}
        self._added: tuple[str, int] | None = None
        """The last record added here and its queue position then (the submit's answer)."""

    def _remember(self, request_id: str, data: bytes, record: RequestRecord) -> RequestRecord:
        if len(self._decoded) >= DECODED_CACHE_SIZE and request_id not in self._decoded:
            del self._decoded[next(iter(self._decoded))]
        self._decoded[request_id] = (data, record)
        return record

    def _read(self, request_id: str, data: bytes | None, seq: bytes | None) -> RequestRecord | None:
        if data is None or seq is None:
            return None
        known = self._decoded.get(request_id)
        if known is not None and known[0] == data:
            return known[1]
        return self._remember(request_id, data, decode(data, seq))

    # -- the protocol -------------------------------------------------------------------------

    def add(self, record: RequestRecord) -> None:
        keys = self._keys
        data = encode(record)
        seq, position = self._add(
            keys=[
                keys.seq,
                keys.request(record.request_id),
                keys.all,
                keys.unfinished,
                keys.queued,
                keys.owners,
                keys.events,
            ],
            args=[
                data,
                record.version,
                record.priority_rank,
                record.request_id,
                record.status,
                self._me,
            ],
        )
        record.seq = int(seq)
        self._added = (record.request_id, int(position))

    def view(self, request_id: str) -> RequestRecord | None:
        self._added = None  # only the call right after the add may use its position
        data, seq = self._redis.hmget(self._keys.request(request_id), ("d", "s"))
        return self._read(request_id, data, seq)

    def get(self, request_id: str) -> RequestRecord | None:
        record = self.view(request_id)
        return None if record is None else record.copy()

    def save(self, record: RequestRecord) -> bool:
        self._added = None
        keys = self._keys
        expected = record.version
        record.version += 1  # the JSON carries the version it is stored under
        data = encode(record)
        saved = self._save_or_restore(
            record,
            expected,
            keys=[
                keys.request(record.request_id),
                keys.queued,
                keys.unfinished,
                keys.owners,
                keys.events,
            ],
            args=[
                expected,
                data,
                record.version,
                record.status,
                record.priority_rank,
                record.request_id,
                self._me,
            ],
        )
        if saved != 1:
            record.version = expected
            return False
        return True

    def _save_or_restore(
        self, record: RequestRecord, expected: int, keys: list[str], args: list[object]
    ) -> int:
        """Run the save script; the record keeps its old version if Redis could not answer."""
        try:
            return int(self._save(keys=keys, args=args))
        except BaseException:
            record.version = expected
            raise

    def _records(self, ids: Iterable[bytes]) -> list[RequestRecord]:
        pipe = self._redis.pipeline(transaction=False)
        names = [raw.decode() for raw in ids]
        for request_id in names:
            pipe.hmget(self._keys.request(request_id), ("d", "s"))
        found = []
        for request_id, (data, seq) in zip(names, pipe.execute(), strict=True):
            record = self._read(request_id, data, seq)
            if record is not None:
                found.append(record.copy())
        return found

    def unfinished(self) -> list[RequestRecord]:
        return self._records(self._redis.zrange(self._keys.unfinished, 0, -1))

    def position(self, record: RequestRecord) -> int:
        added, self._added = self._added, None
        if added is not None and added[0] == record.request_id and record.version == 0:
            return added[1]  # counted by the add itself, one round trip ago
        order = record.priority_rank * QUEUE_KEY_SPAN + record.seq
        return int(self._redis.zcount(self._keys.queued, "-inf", f"({order}"))

    def recent(self, limit: int) -> list[RequestRecord]:
        return self._records(self._redis.zrevrange(self._keys.all, 0, max(limit, 1) - 1))

    def clear(self) -> None:
        """Forget every request, in one script: a request another replica adds meanwhile is
        either gone with the rest or kept whole, never half (a hash outside the sets)."""
        keys = self._keys
        self._clear(
            keys=[keys.all, keys.unfinished, keys.queued, keys.owners],
            args=[keys.request_prefix()],
        )
        self._decoded.clear()

    def close(self) -> None:
        """The clients belong to ``SharedRedis``, closed with the emulator."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    async def durable(self) -> None:
        """Every write was acknowledged by Redis before it returned."""

    # -- which replica drives what ------------------------------------------------------------

    def orphans(self, driven: Callable[[str], bool]) -> list[str]:
        """Unfinished requests no live replica drives, claimed for this one: those whose
        replica's heartbeat has expired (a compare-and-set each, so two survivors never both
        take one), and this replica's own that it does not drive (``driven``: a submit whose
        answer Redis gave too late, a request it dropped on hearing of a reset)."""
        owners = {
            request_id.decode(): owner.decode()
            for request_id, owner in self._redis.hgetall(self._keys.owners).items()
        }
        mine = [r for r, owner in owners.items() if owner == self._me and not driven(r)]
        others = sorted({owner for owner in owners.values() if owner != self._me})
        if not others:
            return mine
        pipe = self._redis.pipeline(transaction=False)
        for owner in others:
            pipe.exists(self._keys.replica(owner))
        dead = {owner for owner, up in zip(others, pipe.execute(), strict=True) if not up}
        heartbeat_prefix = self._keys.replica("")
        return mine + [
            request_id
            for request_id, owner in owners.items()
            if owner in dead
            and self._claim(keys=[self._keys.owners], args=[request_id, self._me, heartbeat_prefix])
            == 1
        ]
